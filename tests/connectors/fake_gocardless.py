"""A local GoCardless API in its documented JSON: resources wrapped in their envelope
({"billing_requests": {...}}), errors as {"error": {"type", "code", "message", "errors"}}.

Like GoCardless it answers a create repeated with the same Idempotency-Key with 409
invalid_state / idempotent_creation_conflict naming the resource made first (the SDK then
fetches it), and it signs webhooks with HMAC-SHA256 of the body in Webhook-Signature.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
from typing import Any

from tests.connectors.fake_http import FakeServer, Reply, Request

TOKEN = "sandbox_fake_access_token"
WEBHOOK_SECRET = "gc_webhook_secret"
ALREADY = "A resource has already been created with this idempotency key"


def gc_error(
    status: int, kind: str, message: str, errors: list[dict[str, Any]] | None = None
) -> Reply:
    body = {
        "error": {
            "type": kind,
            "code": status,
            "message": message,
            "errors": errors or [{"reason": kind, "message": message}],
            "documentation_url": "https://developer.gocardless.com/api-reference#errors",
            "request_id": "fake-request",
        }
    }
    return Reply(status, body)


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class FakeGoCardless(FakeServer):
    """Billing requests, flows, payments, refunds, instalment schedules and events in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.route(
            "POST", r"/billing_requests", self._create("billing_requests", self._billing_request)
        )
        self.route("GET", r"/billing_requests/(?P<id>BRQ\w+)", self._get("billing_requests"))
        self.route(
            "POST", r"/billing_request_flows", self._create("billing_request_flows", self._flow)
        )
        self.route("GET", r"/payments/(?P<id>PM\w+)", self._get("payments"))
        self.route("POST", r"/payments", self._create("payments", self._payment))
        self.route("GET", r"/payments", self._list_payments)
        self.route("POST", r"/refunds", self._create("refunds", self._refund))
        self.route("GET", r"/refunds/(?P<id>RF\w+)", self._get("refunds"))
        # The SDK posts to /instalment_schedules/create_with_dates; the API reference names
        # POST /instalment_schedules, so both are served.
        schedules = self._create("instalment_schedules", self._schedule)
        self.route("POST", r"/instalment_schedules(/create_with_dates)?", schedules)
        self.route("GET", r"/instalment_schedules/(?P<id>IS\w+)", self._get("instalment_schedules"))
        self.route("GET", r"/events", self._list_events)
        # A billing request completed by our own page (the IBAN entered in the portal).
        self.route(
            "POST", r"/billing_requests/(?P<id>BRQ\w+)/actions/(?P<action>\w+)", self._action
        )

    # -- what the debtor and the banks do ------------------------------------------------------

    def fulfil(self, billing_request_id: str) -> str:
        """The debtor finished the flow: the billing request is fulfilled with a mandate."""
        with self.lock:
            billing = self.objects[billing_request_id]
            mandate = self._id("MD")
            billing["status"] = "fulfilled"
            billing["links"]["mandate_request_mandate"] = mandate
            return mandate

    def set_payment(
        self, payment_id: str, status: str, description: str | None = None, cause: str | None = None
    ) -> dict[str, Any]:
        """Move a payment and record the event GoCardless would send for it."""
        with self.lock:
            self.objects[payment_id]["status"] = status
            event = {
                "id": self._id("EV"),
                "created_at": "2026-12-05T10:00:00.000Z",
                "resource_type": "payments",
                "action": status,
                "links": {"payment": payment_id},
                "details": {
                    "origin": "bank",
                    "cause": cause or status,
                    "description": description or status,
                },
                "metadata": {},
            }
            self.events.append(event)
            return event

    def webhook(self, *events: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        """Headers and body of one webhook carrying events, signed like GoCardless."""
        body = json.dumps({"events": list(events), "meta": {"webhook_id": self._id("WB")}}).encode()
        return {"Webhook-Signature": sign(body), "Content-Type": "application/json"}, body

    # -- plumbing -----------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):012d}"

    def _store(self, prefix: str, **fields: Any) -> dict[str, Any]:
        obj = {"id": self._id(prefix), "created_at": "2026-12-05T10:00:00.000Z", **fields}
        self.objects[obj["id"]] = obj
        return obj

    def _auth(self, request: Request) -> Reply | None:
        if request.header("Authorization") != f"Bearer {TOKEN}":
            return gc_error(401, "invalid_api_usage", "Access token not found")
        if request.header("GoCardless-Version") != "2015-07-06":
            return gc_error(400, "invalid_api_usage", "GoCardless-Version header missing")
        return None

    def _create(self, envelope: str, make):  # type: ignore[no-untyped-def]
        def handle(request: Request, _: re.Match[str]) -> Reply:
            def create() -> Reply:
                params = request.json().get(envelope)
                if not isinstance(params, dict):
                    return gc_error(400, "invalid_api_usage", f"Missing envelope {envelope}")
                result = make(params)
                if isinstance(result, Reply):
                    return result
                return Reply(201, {envelope: result})

            def conflict(first: Reply) -> Reply:
                return gc_error(
                    409,
                    "invalid_state",
                    ALREADY,
                    [
                        {
                            "reason": "idempotent_creation_conflict",
                            "message": ALREADY,
                            "links": {"conflicting_resource_id": first.body[envelope]["id"]},
                        }
                    ],
                )

            denied = self._auth(request)
            if denied:
                return denied
            key = request.header("Idempotency-Key")
            if key and (request.path, key) in self.idempotent:
                # GoCardless answers every repeat of a key with the conflict, same body or not.
                first = self.idempotent[(request.path, key)][1]
                if first.status < 300:
                    return conflict(first)
            return self.once(request, create, conflict)

        return handle

    def _get(self, envelope: str):  # type: ignore[no-untyped-def]
        def handle(request: Request, match: re.Match[str]) -> Reply:
            obj = self.objects.get(match["id"])
            if obj is None:
                return self._auth(request) or gc_error(
                    404, "invalid_api_usage", "Resource not found"
                )
            return self._auth(request) or Reply(200, {envelope: json.loads(json.dumps(obj))})

        return handle

    def _billing_request(self, params: dict[str, Any]) -> dict[str, Any] | Reply:
        wanted = params.get("mandate_request") or {}
        if not wanted.get("scheme") and not wanted.get("currency"):
            return gc_error(
                422,
                "validation_failed",
                "Validation failed",
                [
                    {
                        "field": "mandate_request",
                        "message": "must have a scheme or currency",
                        "request_pointer": "/billing_requests/mandate_request",
                    }
                ],
            )
        return self._store(
            "BRQ",
            status="pending",
            mandate_request=wanted,
            payment_request=params.get("payment_request"),
            metadata=params.get("metadata") or {},
            links={"customer": self._id("CU")},
        )

    def _payment(self, params: dict[str, Any]) -> dict[str, Any] | Reply:
        if not isinstance(params.get("amount"), int) or params["amount"] <= 0:
            return gc_error(
                422,
                "validation_failed",
                "Validation failed",
                [
                    {
                        "field": "amount",
                        "message": "must be greater than 0",
                        "request_pointer": "/payments/amount",
                    }
                ],
            )
        mandate = (params.get("links") or {}).get("mandate")
        if not mandate or not any(
            (o.get("links") or {}).get("mandate_request_mandate") == mandate
            for o in self.objects.values()
        ):
            return gc_error(422, "invalid_api_usage", "Mandate not found")
        return self._store(
            "PM",
            amount=params["amount"],
            amount_refunded=0,
            currency=params.get("currency"),
            description=params.get("description"),
            status="pending_submission",
            metadata=params.get("metadata") or {},
            links={"mandate": mandate},
        )

    def _list_payments(self, request: Request, _: re.Match[str]) -> Reply:
        mandate = request.query.get("mandate")
        found = [
            o
            for o in self.objects.values()
            if o["id"].startswith("PM") and o["links"].get("mandate") == mandate
        ]
        body = {
            "payments": found,
            "meta": {"cursors": {"before": None, "after": None}, "limit": 50},
        }
        return self._auth(request) or Reply(200, body)

    def _flow(self, params: dict[str, Any]) -> dict[str, Any] | Reply:
        billing = (params.get("links") or {}).get("billing_request")
        if billing not in self.objects:
            return gc_error(
                422,
                "validation_failed",
                "Validation failed",
                [
                    {
                        "field": "links.billing_request",
                        "message": "not found",
                        "request_pointer": "/billing_request_flows/links",
                    }
                ],
            )
        flow = self._store(
            "BRF",
            redirect_uri=params.get("redirect_uri"),
            exit_uri=params.get("exit_uri"),
            language=params.get("language"),
            links={"billing_request": billing},
        )
        flow["authorisation_url"] = (
            f"https://pay-sandbox.gocardless.com/billing/static/flow?id={flow['id']}"
        )
        return flow

    def _refund(self, params: dict[str, Any]) -> dict[str, Any] | Reply:
        payment = self.objects.get((params.get("links") or {}).get("payment", ""))
        if payment is None:
            return gc_error(
                422,
                "validation_failed",
                "Validation failed",
                [
                    {
                        "field": "links.payment",
                        "message": "not found",
                        "request_pointer": "/refunds/links/payment",
                    }
                ],
            )
        amount = params.get("amount")
        if params.get("total_amount_confirmation") != payment["amount_refunded"] + amount:
            return gc_error(
                422, "invalid_state", "total_amount_confirmation does not match the refunds made"
            )
        if payment["amount_refunded"] + amount > payment["amount"]:
            return gc_error(422, "invalid_state", "Refund would exceed the payment amount")
        payment["amount_refunded"] += amount
        return self._store(
            "RF",
            amount=amount,
            currency=payment["currency"],
            status="created",
            metadata=params.get("metadata") or {},
            links={"payment": payment["id"]},
        )

    def _schedule(self, params: dict[str, Any]) -> dict[str, Any] | Reply:
        parts = params.get("instalments") or []
        if sum(p["amount"] for p in parts) != params.get("total_amount"):
            return gc_error(
                422,
                "validation_failed",
                "Validation failed",
                [
                    {
                        "field": "total_amount",
                        "message": "must equal the sum of the instalments",
                        "request_pointer": "/instalment_schedules/total_amount",
                    }
                ],
            )
        mandate = (params.get("links") or {}).get("mandate")
        payments = [
            self._store(
                "PM",
                amount=p["amount"],
                amount_refunded=0,
                currency=params["currency"],
                status="pending_submission",
                charge_date=p["charge_date"],
                metadata={},
                links={"mandate": mandate},
            )["id"]
            for p in parts
        ]
        return self._store(
            "IS",
            name=params.get("name"),
            currency=params.get("currency"),
            total_amount=params.get("total_amount"),
            status="active",
            metadata=params.get("metadata") or {},
            links={"mandate": mandate, "payments": payments},
        )

    def _action(self, request: Request, match: re.Match[str]) -> Reply:
        """collect_customer_details, collect_bank_account, confirm_payer_details, fulfil."""
        denied = self._auth(request)
        if denied:
            return denied
        with self.lock:
            billing = self.objects.get(match["id"])
            if billing is None:
                return gc_error(404, "invalid_api_usage", "Resource not found")
            data = (request.json() or {}).get("data") or {}
            action = match["action"]
            actions = billing.setdefault("actions", [])
            done = [a["type"] for a in actions if a["status"] == "completed"]
            if billing["status"] == "fulfilled":
                return gc_error(422, "invalid_state", "Billing request is already fulfilled")
            if action == "collect_customer_details":
                if not (data.get("customer") or {}).get("family_name"):
                    return gc_error(
                        422,
                        "validation_failed",
                        "Validation failed",
                        [{"field": "family_name", "message": "is required"}],
                    )
            elif action == "collect_bank_account":
                iban = str(data.get("iban") or "")
                if len(iban) < 15 or not data.get("account_holder_name"):
                    return gc_error(
                        422,
                        "validation_failed",
                        "Validation failed",
                        [{"field": "iban", "message": "is invalid"}],
                    )
                holder = data["account_holder_name"]
                billing["bank_account"] = {"iban_ending": iban[-4:], "holder": holder}
            elif action == "confirm_payer_details":
                if {"collect_customer_details", "collect_bank_account"} - set(done):
                    return gc_error(422, "invalid_state", "Payer details are not collected")
            elif action == "fulfil":
                if "confirm_payer_details" not in done:
                    return gc_error(422, "invalid_state", "Payer details are not confirmed")
                billing["status"] = "fulfilled"
                billing["links"]["mandate_request_mandate"] = self._id("MD")
            else:
                return gc_error(404, "invalid_api_usage", "Unknown action")
            if action != "fulfil":
                actions.append({"type": action, "status": "completed"})
            return Reply(200, {"billing_requests": json.loads(json.dumps(billing))})

    def _list_events(self, request: Request, _: re.Match[str]) -> Reply:
        wanted = request.query.get("payment")
        action = request.query.get("action")
        found = [
            e
            for e in reversed(self.events)
            if e["links"].get("payment") == wanted and (action is None or e["action"] == action)
        ]
        body = {"events": found, "meta": {"cursors": {"before": None, "after": None}, "limit": 50}}
        return self._auth(request) or Reply(200, body)
