"""People who sign in to the designer: roles and hashed passwords."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access.passwords import NO_ONE, check_password, hash_password
from engine.core.clock import naive_utc
from engine.storage.models import UserRow

# A collector works cases on the phone: records payments, promises, disputes and holds on the
# case page (designer/case_actions.py) and works the task inbox (designer/tasks.py); otherwise
# reads like a viewer.
ROLES = ("manager", "reviewer", "admin", "viewer", "collector")


class UserError(ValueError):
    """A user could not be created; the message says why."""


def add_user(session: Session, email: str, password: str, role: str, now: datetime) -> UserRow:
    """Create a user with a hashed password."""
    email = email.strip().lower()
    if role not in ROLES:
        raise UserError(f"Unknown role '{role}'; choose one of {', '.join(ROLES)}.")
    if "@" not in email:
        raise UserError(f"'{email}' is not an email address.")
    if len(password) < 8:
        raise UserError("The password must have at least 8 characters.")
    if session.scalar(select(UserRow).where(UserRow.email == email)):
        raise UserError(f"A user {email} exists already.")
    user = UserRow(
        email=email,
        password_hash=hash_password(password),
        role=role,
        created_at=naive_utc(now),
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> UserRow | None:
    """The user with this email and password, or None; as slow for an unknown email."""
    user = session.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
    if user is None:
        check_password(NO_ONE, password)  # the same scrypt work as a wrong password
        return None
    return user if check_password(user.password_hash, password) else None


def session_id(session: Session, user: UserRow) -> str:
    """What a session cookie of this user carries: `id:token` (the token made on first use)."""
    if not user.session_token:
        user.session_token = secrets.token_hex(16)
        session.flush()
    return f"{user.id}:{user.session_token}"


def session_user(session: Session, value: object) -> UserRow | None:
    """The user a session cookie's `id:token` names, or None once that user signed out."""
    user_id, _, token = str(value).partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = session.get(UserRow, int(user_id))
    if user is None or not user.session_token:
        return None
    return user if hmac.compare_digest(user.session_token, token) else None


def end_sessions(session: Session, user_id: int) -> None:
    """Sign the user out everywhere: every cookie carrying the old token stops working."""
    user = session.get(UserRow, user_id)
    if user is not None:
        user.session_token = secrets.token_hex(16)
