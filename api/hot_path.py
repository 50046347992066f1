"""The hot path of POST /api/v1/cases/{external_id}/events, in front of Flask.

A host reporting payments sends thousands of these; through Flask, flask-smorest, webargs and
a Session each cost about 1.5 ms of CPU, of which storing the event is a small part. This WSGI
middleware answers the plain case itself: a token this process verified less than
CACHE_SECONDS ago with the write scope, a JSON body that EventIn accepts, a payload that
`clean_payload` accepts, and a new event id for an active or held case (with or without an
Idempotency-Key that is new). It writes the same rows (engine.intake.event_intake) and answers with
the same bytes as the Flask view.

Everything else goes on to Flask unchanged, body included: an unknown, stale or revoked token,
a missing scope, invalid fields, a repeated event id or Idempotency-Key (replay or conflict), an
unknown or closed case, any database error. So every answer other than "202, stored now" still
comes from the view the OpenAPI document describes, and the middleware cannot invent a new one.
`API_HOT_PATH = False` in the app config turns it off.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from flask import Flask
from marshmallow import ValidationError
from marshmallow.validate import Length
from werkzeug.http import HTTP_STATUS_CODES

from api.auth import bearer_value, token_cache
from api.events import event_out
from api.idempotency import valid_key
from api.problems import PROBLEM_JSON
from api.schemas import EVENT_TYPES, EventIn, EventOut
from api.store import writer_lock
from engine import (
    Answer,
    CaseFacts,
    Decision,
    EventIntake,
    KeyedAnswer,
    NewEvent,
    Outcome,
    clean_payload,
    decide_event,
    event_row,
    load_json,
    naive_utc,
    request_hash,
    utcnow,
)
from mahnwerk_web import headers as security
from mahnwerk_web.db import KEY as DB_KEY

log = logging.getLogger(__name__)
EVENTS_PATH = re.compile(r"/api/v1/cases/([^/]+)/events")
MAX_BODY = 64 * 1024  # larger bodies are not plain events: Flask decides
IDEMPOTENCY_KEY = "HTTP_IDEMPOTENCY_KEY"
_EVENT_IN = EventIn()
_FIELDS = frozenset(_EVENT_IN.fields)
_OCCURRED_AT = _EVENT_IN.fields["occurred_at"]
# EventIn's event_id limits, read from its Length validator.
_ID_MIN, _ID_MAX = next(
    (v.min or 0, v.max) for v in _EVENT_IN.fields["event_id"].validators if isinstance(v, Length)
)
# The view's answer: EventOut's fields, each serialized by its own field (EventOut().dump without
# the schema machinery around it, which costs three times as much per event).
_OUT_FIELDS = tuple(sorted(EventOut().fields.items()))

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _NotPlain(Exception):
    """The request is not the plain case: Flask answers it."""


class EventHotPath:
    """WSGI middleware: the plain new-event POST answered here, everything else by `wsgi_app`."""

    def __init__(self, app: Flask, wsgi_app: WsgiApp) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.intakes: dict[int, EventIntake] = {}  # by id of the app's Database
        self.answered = 0  # requests answered here rather than by Flask (a statistic)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Answer the plain event POST, or hand the request on."""
        if environ.get("REQUEST_METHOD") == "POST":
            match = EVENTS_PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match is not None and self.app.config.get("API_HOT_PATH", True):
                answer = self._try(environ, match.group(1))
                if answer is not None:
                    self.answered += 1
                    return _respond(answer, start_response)
        return self.wsgi_app(environ, start_response)

    def _try(self, environ: dict[str, Any], segment: str) -> Answer | None:
        intake = self._intake()
        if intake is None or not _plain_request(environ):
            return None
        body = _read_body(environ)
        if body is None:
            return None
        try:
            return self._accept(environ, intake, segment, body)
        except _NotPlain:
            return None
        except Exception:  # the full path runs the request again and answers as it always did
            log.debug("event hot path handed over after an error", exc_info=True)
            return None

    def _intake(self) -> EventIntake | None:
        db = self.app.extensions.get(DB_KEY)
        if db is None or not EventIntake.supports(db) or self.app.debug:
            return None
        intake = self.intakes.get(id(db))
        if intake is None or intake.db is not db:
            intake = self.intakes[id(db)] = EventIntake(db, lambda: writer_lock(db))
        return intake

    def _accept(
        self, environ: dict[str, Any], intake: EventIntake, segment: str, body: bytes
    ) -> Answer | None:
        now = (self.app.config.get("API_CLOCK") or utcnow)()
        token = bearer_value(environ.get("HTTP_AUTHORIZATION", ""))
        info = token_cache(self.app).cached(token, now) if token else None
        if info is None or not info.allows("write"):
            raise _NotPlain
        external_id = segment.encode("latin-1").decode("utf-8")  # as werkzeug decodes a path
        event_id, kind, payload, occurred_at = _event_fields(body)
        received = naive_utc(now)
        event = NewEvent(
            external_id,
            event_id,
            kind,
            clean_payload(kind, payload),
            naive_utc(occurred_at or now),
            received,
        )
        keyed = _keyed(environ, info.id, body)

        body = _answer(event)  # made before the intake queues the event for the writer

        def answer_for(case: CaseFacts) -> str:
            decision = decide_event(case, external_id, kind, payload, clean=event.payload)
            if decision.outcome is not Outcome.STORE:
                raise LookupError(decision.outcome)  # the full path names the field
            return body

        return intake.accept(event, answer_for, keyed)


def _respond(answer: Answer, start_response: StartResponse) -> list[bytes]:
    """Status and headers as Flask sends them (api.idempotency for a replay)."""
    data = answer.body.encode()
    mimetype = PROBLEM_JSON if answer.status_code >= 400 else "application/json"
    headers = [("Content-Type", mimetype), ("Content-Length", str(len(data)))]
    headers += security.header_list(security.DATA)  # as the app's after_request
    if answer.replayed:
        headers.append(("Idempotent-Replayed", "true"))
    code = answer.status_code
    start_response(f"{code} {HTTP_STATUS_CODES.get(code, 'UNKNOWN').upper()}", headers)
    return [data]


def _plain_request(environ: dict[str, Any]) -> bool:
    mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    return mimetype == "application/json"


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """The body, put back for Flask in case it answers after all; None leaves it unread."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if not 0 < length <= MAX_BODY:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _event_fields(body: bytes) -> tuple[str, str, dict[str, Any], datetime | None]:
    """EventIn's checks for a body it accepts as is; anything doubtful is not plain."""
    try:
        data = load_json(body)  # as webargs reads it (no BOM, no UTF-16; depth and text checked)
    except ValueError as exc:
        raise _NotPlain from exc
    if not isinstance(data, dict) or not data.keys() <= _FIELDS:
        raise _NotPlain
    event_id, kind = data.get("event_id"), data.get("type")
    payload = data.get("payload", {})
    if not (isinstance(event_id, str) and _ID_MIN <= len(event_id) <= _ID_MAX):
        raise _NotPlain
    if kind not in EVENT_TYPES:
        raise _NotPlain
    if not isinstance(payload, dict) or not all(isinstance(k, str) for k in payload):
        raise _NotPlain
    occurred_at = data.get("occurred_at")
    if occurred_at is not None:
        try:
            occurred_at = _OCCURRED_AT.deserialize(occurred_at)
        except ValidationError as exc:
            raise _NotPlain from exc
    return event_id, kind, dict(payload), occurred_at


def _keyed(environ: dict[str, Any], token_id: int, body: bytes) -> KeyedAnswer | None:
    key = environ.get(IDEMPOTENCY_KEY)
    if key is None:
        return None
    if not valid_key(key):
        raise _NotPlain
    path = environ["PATH_INFO"].encode("latin-1").decode("utf-8")
    fingerprint = request_hash("POST", path, body)
    return KeyedAnswer(token_id, key, fingerprint, "POST", path, 202)


def _answer(event: NewEvent) -> str:
    """The body the view makes of a new event: its event_out through EventOut, in Flask's JSON."""
    stored = Decision(Outcome.STORE, payload=event.payload)
    row = event_row(None, event.event_id, event.kind, stored, event.received_at, event.occurred_at)
    values = event_out(SimpleNamespace(**row), event.case_external_id, replayed=False)
    out = {
        name: None if values[name] is None else field._serialize(values[name], name, values)
        for name, field in _OUT_FIELDS
    }
    return json.dumps(out, sort_keys=True, separators=(",", ":")) + "\n"


def install(app: Flask) -> None:
    """Put the hot path in front of the app's WSGI callable (once)."""
    if not isinstance(app.wsgi_app, EventHotPath):
        app.wsgi_app = EventHotPath(app, app.wsgi_app)  # type: ignore[method-assign]
