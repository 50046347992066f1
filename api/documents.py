"""Case documents: the host attaches the invoice PDF a journey's emails may carry (docs/api.md).

The body is the file itself (`application/pdf`), not JSON: bounded by the setting
MAHNWERK_DOCUMENT_MAX_BYTES, checked by its magic bytes, stored once per case and kind.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_smorest import abort

from api import schemas
from api.auth import check_request
from api.blueprint import Blueprint
from api.cases import load_case
from api.clock import now
from api.store import write_transaction
from engine import DOCUMENT_KINDS, DocumentRefused, load_document, load_settings, store_document
from mahnwerk_web.db import transaction

blp = Blueprint(
    "api_documents",
    __name__,
    description="Files stored with a case: the invoice PDF a send step attaches (`attach`).",
)
blp.before_request(check_request)
BODY_TYPES = ("application/pdf", "application/octet-stream")
PDF_BODY = {"schema": {"type": "string", "format": "binary"}}
UPLOAD = {
    "requestBody": {
        "required": True,
        "description": "The PDF file itself (it must begin with %PDF-).",
        "content": {"application/pdf": PDF_BODY},
    }
}
DOWNLOAD = {
    "responses": {
        "200": {"description": "The stored file.", "content": {"application/pdf": PDF_BODY}}
    }
}


def known_kind(kind: str) -> None:
    """A 404 problem naming `kind` unless it is one the engine stores."""
    if kind not in DOCUMENT_KINDS:
        known = ", ".join(DOCUMENT_KINDS)
        abort(
            404,
            message=f"There is no document kind '{kind}'.",
            errors={"kind": [f"Use one of: {known}."]},
        )


def body() -> bytes:
    """The request's file, refused early (413) when it says it is larger than the setting."""
    limit = load_settings().document_max_bytes
    if request.mimetype not in BODY_TYPES:
        abort(
            415,
            errors={
                "body": [
                    f"Send the file as application/pdf, not '{request.mimetype or 'nothing'}'."
                ]
            },
        )
    if (request.content_length or 0) > limit:
        abort(
            413,
            errors={
                "body": [
                    f"The file has {request.content_length} bytes; at most {limit} are stored."
                ]
            },
        )
    data = request.get_data(cache=False)
    if len(data) > limit:  # a body sent without Content-Length
        abort(
            413, errors={"body": [f"The file has {len(data)} bytes; at most {limit} are stored."]}
        )
    return data


@blp.put("/cases/<external_id>/documents/<kind>")
@blp.doc(**UPLOAD)
@blp.response(
    200, schemas.DocumentOut, description="The file replaced the stored one (or was the same)."
)
@blp.alt_response(201, schema=schemas.DocumentOut, description="The file was stored.")
def put_document(external_id: str, kind: str) -> Any:
    """Store the case's invoice PDF (replacing an older one); send steps with `attach` carry it."""
    known_kind(kind)
    data = body()
    with write_transaction() as session:
        view = load_case(session, external_id)
        try:
            stored = store_document(
                session, view.case, kind, data, now(), load_settings().document_max_bytes
            )
        except DocumentRefused as exc:
            abort(422, errors={exc.field: [str(exc)]})
    out = {"case": external_id, "bytes": stored.size, **stored.__dict__}
    return out, 201 if stored.result == "created" else 200


@blp.get("/cases/<external_id>/documents/<kind>")
@blp.doc(**DOWNLOAD)
def get_document(external_id: str, kind: str) -> Any:
    """The case's stored file of this kind, as it was uploaded."""
    known_kind(kind)
    with transaction() as session:
        view = load_case(session, external_id)
        row = load_document(session, view.case.id, kind)
        if row is None:
            abort(404, message=f"Case '{external_id}' has no {kind} document.", kind="no-document")
        headers = {"Content-Disposition": f'attachment; filename="{row.filename}"'}
        return Response(row.data, mimetype=row.content_type, headers=headers)
