"""Sign in and out; roles decide who may change journeys."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as browser_session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.wrappers import Response

from designer.i18n import _
from engine import (
    LoginLimits,
    UserRow,
    authenticate,
    end_sessions,
    forget_account_failures,
    login_wait,
    record_login_failure,
    session_id,
    session_user,
    utcnow,
)
from mahnwerk_web.db import transaction

# Managers and admins draw journeys; reviewers read and approve (four eyes), viewers only read.
EDIT_ROLES = frozenset({"manager", "admin"})
SIMULATE_ROLES = frozenset({"manager", "admin", "reviewer"})
# Only admins see the delivery settings and send test messages through the real connectors.
ADMIN_ROLES = frozenset({"admin"})
# Taking a journey live (engine/authoring/lifecycle.py decides; these only choose the buttons):
# reviewers approve or send back, managers and admins submit, publish, pause and retire.
REVIEW_ROLES = frozenset({"reviewer"})
PUBLISH_ROLES = frozenset({"manager", "admin"})
COMMENT_ROLES = frozenset({"manager", "admin", "reviewer"})
# Staff actions on a case (designer/case_actions.py), for a debtor on the phone: collectors,
# managers and admins record what the debtor says and protect them (a hold stops contact); only
# managers and admins take a protection off again (release) or end the case (close).
CASE_ACTION_ROLES = frozenset({"collector", "manager", "admin"})
CASE_DECISION_ROLES = frozenset({"manager", "admin"})
# A debtor's kept credit (designer/debtors.py): paying it back or setting it off moves the
# person's money, a decision like closing a case: managers and admins.
CREDIT_ROLES = frozenset({"manager", "admin"})
# The task inbox (designer/tasks.py): collectors work the tasks, managers and admins too.
TASK_ROLES = frozenset({"collector", "manager", "admin"})

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class User(UserMixin):
    """The signed-in person, detached from the database session."""

    id: int
    email: str
    role: str
    session_id: str = ""  # `id:token` (engine.access.users): signing out replaces the token

    def get_id(self) -> str:
        """What the session cookie carries: a sign-out makes it stale (unlike the bare id)."""
        return self.session_id

    @property
    def can_edit(self) -> bool:
        """Whether this user may save journeys and templates."""
        return self.role in EDIT_ROLES

    @property
    def can_simulate(self) -> bool:
        """Whether this user may run simulations."""
        return self.role in SIMULATE_ROLES

    @property
    def can_review(self) -> bool:
        """Whether this user approves versions or sends them back (never their own)."""
        return self.role in REVIEW_ROLES

    @property
    def can_publish(self) -> bool:
        """Whether this user submits, publishes, pauses and retires journeys."""
        return self.role in PUBLISH_ROLES

    @property
    def can_comment(self) -> bool:
        """Whether this user may comment on a version."""
        return self.role in COMMENT_ROLES

    @property
    def can_work_tasks(self) -> bool:
        """Whether this user sees the task inbox, claims tasks and records outcomes."""
        return self.role in TASK_ROLES

    @property
    def is_admin(self) -> bool:
        """Whether this user may see the delivery settings and send test messages."""
        return self.role in ADMIN_ROLES


def _user(row: UserRow, sid: str) -> User:
    return User(id=row.id, email=row.email, role=row.role, session_id=sid)


@login_manager.user_loader
def load_user(sid: str) -> User | None:
    """The user behind a session cookie, unless they signed out since it was made."""
    with transaction() as session:
        row = session_user(session, sid)
        return _user(row, sid) if row else None


def role_required(roles: frozenset[str]) -> Callable[[F], F]:
    """Let only signed-in users with one of `roles` through; others get 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("journeys.index")


def _limits() -> LoginLimits:
    config = current_app.config
    return LoginLimits(
        per_account=config["LOGIN_FAILURES_PER_ACCOUNT"],
        per_address=config["LOGIN_FAILURES_PER_ADDRESS"],
        window=config["LOGIN_FAILURE_WINDOW"],
    )


def _sign_in(email: str, password: str) -> tuple[User | None, timedelta | None]:
    """The user (or None) and, when this account or address is throttled, how long to wait.

    A throttled attempt is refused before the password is checked, even a right one: otherwise
    guessing would go on, only with slower answers (engine.access.throttle).
    """
    address, now, limits = request.remote_addr or "", utcnow(), _limits()
    with transaction() as session:
        wait = login_wait(session, email, address, now, limits)
        if wait is not None:
            return None, wait
        row = authenticate(session, email, password)
        if row is None:
            record_login_failure(session, email, address, now, limits)
            return None, None
        forget_account_failures(session, email)
        return _user(row, session_id(session, row)), None


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The sign-in form; 401 for a wrong email or password, 429 when throttled."""
    if request.method == "GET":
        return render_template("auth/login.html", error=None)
    user, wait = _sign_in(request.form.get("email", ""), request.form.get("password", ""))
    if user is not None:
        browser_session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME
        login_user(user)
        return redirect(_safe_next(request.args.get("next")))
    if wait is not None:
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        error = _(
            "Too many failed sign-ins. Please wait %(minutes)s min and try again.", minutes=minutes
        )
        page = render_template("auth/login.html", error=error)
        return page, 429, {"Retry-After": str(math.ceil(wait.total_seconds()))}
    return render_template("auth/login.html", error=_("Wrong email or password.")), 401


@bp.post("/logout")
def logout() -> Response:
    """Sign out, here and in every other browser: cookies copied before stop working."""
    if current_user.is_authenticated:
        with transaction() as session:
            end_sessions(session, current_user.id)
    logout_user()
    flash(_("You are signed out."))
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    """Require sign-in everywhere except the login page and static files."""
    login_manager.init_app(app)
    defaults = LoginLimits()
    app.config.setdefault("LOGIN_FAILURES_PER_ACCOUNT", defaults.per_account)
    app.config.setdefault("LOGIN_FAILURES_PER_ADDRESS", defaults.per_address)
    app.config.setdefault("LOGIN_FAILURE_WINDOW", defaults.window)
    login_manager.login_view = "auth.login"
    login_manager.login_message = ""

    @app.before_request
    def require_login() -> Any:
        if request.endpoint in (None, "static", "auth.login", "i18n.switch"):
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return None

    app.jinja_env.globals["current_user"] = current_user
