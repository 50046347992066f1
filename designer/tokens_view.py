"""API tokens (admins only): create one with its scopes (shown once), list them, revoke one.

Everything goes through the engine (`engine.create_token`, `list_tokens`, `revoke_token`, the
same functions as `mahnwerk token add/list/revoke`). The token itself is shown once, in the
answer to the create form; it is never stored, put in the session or a flash message.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from designer.auth import ADMIN_ROLES, role_required
from designer.i18n import _
from engine import TOKEN_SCOPES, TokenError, create_token, list_tokens, revoke_token, utcnow
from mahnwerk_web.db import transaction

bp = Blueprint("tokens", __name__, url_prefix="/settings/tokens")
NAME_MAX = 100  # the column's length


def _page(
    created: tuple[Any, str] | None = None,
    errors: dict[str, str] | None = None,
    entered: dict[str, Any] | None = None,
) -> tuple[str, int]:
    with transaction() as session:
        rows = list_tokens(session, include_revoked=True)
    status = 422 if errors else (201 if created else 200)
    return render_template(
        "settings/tokens.html",
        tokens=rows,
        scopes=TOKEN_SCOPES,
        created=created,
        errors=errors or {},
        entered=entered or {"name": "", "scopes": ["read"]},
    ), status


@bp.get("")
@role_required(ADMIN_ROLES)
def index() -> tuple[str, int]:
    """Every token (revoked ones too, greyed) and the form to create one."""
    return _page()


@bp.post("")
@role_required(ADMIN_ROLES)
def create() -> tuple[str, int]:
    """Create a token; the answer shows it once."""
    name = request.form.get("name", "").strip()
    scopes = request.form.getlist("scopes")
    errors = {}
    if not name:
        errors["name"] = _("Give the token a name, e.g. the host system that uses it.")
    elif len(name) > NAME_MAX:
        errors["name"] = _("A name has at most %(n)s characters.", n=NAME_MAX)
    if not scopes or set(scopes) - set(TOKEN_SCOPES):
        errors["scopes"] = _("Choose at least one of the scopes offered.")
    if errors:
        return _page(
            errors=errors, entered={"name": request.form.get("name", ""), "scopes": scopes}
        )
    try:
        with transaction() as session:
            row, token = create_token(session, name, scopes, utcnow())
            shown = (row.name, token)
    except TokenError as exc:  # the checks above make this unlikely; say it, never a 500
        return _page(errors={"name": str(exc)}, entered={"name": name, "scopes": scopes})
    return _page(created=shown)


@bp.post("/<int:token_id>/revoke")
@role_required(ADMIN_ROLES)
def revoke(token_id: int) -> Any:
    """Revoke a token: host systems using it are refused from now on."""
    try:
        with transaction() as session:
            name = revoke_token(session, token_id, utcnow()).name
    except TokenError:
        flash(_("There is no such token."), "error")
        return redirect(url_for("tokens.index"))
    flash(_("Token '%(name)s' revoked.", name=name))
    return redirect(url_for("tokens.index"))
