"""The composed WSGI app: one program, one front door per audience.

`/api/...` and `/hooks/...` (providers' signed delivery receipts) go to the host-system API's
app, `/p/...` to the debtor portal (`portal`, opened by the signed link in each message),
everything else to the designer (staff). Each app owns its whole URL space (the API
routes are /api/v1/... inside the API app too), so its own tests, `url_for` and OpenAPI paths
are the public ones: the dispatcher only picks the app, it does not move the prefix into
SCRIPT_NAME as werkzeug's DispatcherMiddleware would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# Path prefixes the API app owns: the host API, and the callbacks providers sign.
API_PREFIXES = ("/api/", "/hooks/")
# The debtor portal's path prefix (its app owns /p/...).
PORTAL_PREFIX = "/p/"


class PathDispatcher:
    """Send each request to the app that owns its path prefix, else to the default app."""

    def __init__(self, default: WSGIApplication, mounts: Mapping[str, WSGIApplication]) -> None:
        self.default = default
        # Longest prefix first, so a more specific mount wins.
        self.mounts = sorted(mounts.items(), key=lambda item: len(item[0]), reverse=True)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        for prefix, app in self.mounts:
            if path.startswith(prefix):
                return app(environ, start_response)
        return self.default(environ, start_response)


class UnsafeSecretKey(RuntimeError):
    """The session key is missing or a published development value: the program will not serve."""


def refuse_unsafe_key(key: str | None, testing: bool = False) -> None:
    """Raise UnsafeSecretKey for a missing or development key (tests pass keys of their own)."""
    from engine.core.settings import secret_key_problem

    problem = None if testing else secret_key_problem(key)
    if problem is not None:
        raise UnsafeSecretKey(problem.text())


def create_app(config: dict[str, Any] | None = None) -> Any:
    """The designer with the API and the portal mounted beside it; the designer's app is returned.

    Outside TESTING it refuses a missing or development session key (`refuse_unsafe_key`):
    with a published key anyone could sign an admin's session cookie.

    Returning the designer's Flask object (its `wsgi_app` wrapped) keeps `app.test_client()`,
    Granian's factory and `wsgi:app` working on the whole program.
    """
    import api
    import designer
    import portal

    staff = designer.create_app(config)
    refuse_unsafe_key(staff.config.get("SECRET_KEY"), testing=staff.testing)
    host = api.create_app(config)
    debtors = portal.create_app(config)
    mounts: dict[str, Any] = {**dict.fromkeys(API_PREFIXES, host), PORTAL_PREFIX: debtors}
    staff.wsgi_app = PathDispatcher(staff.wsgi_app, mounts)  # type: ignore[method-assign]
    staff.extensions["mahnwerk_api_app"] = host
    staff.extensions["mahnwerk_portal_app"] = debtors
    return staff
