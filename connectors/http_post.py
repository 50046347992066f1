"""A minimal HTTP POST over urllib that reports transport failures instead of raising."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

from connectors.base import SendResult, permanent, temporary


@dataclass(frozen=True)
class HttpAnswer:
    """A provider's answer: status code and raw body."""

    status: int
    body: bytes


class TransportError(Exception):
    """No HTTP answer at all: refused, reset, timed out, DNS."""


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> HttpAnswer:
    """POST body and return the answer whatever its status; raise TransportError if none."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpAnswer(status=response.status, body=response.read())
    except urllib.error.HTTPError as exc:
        return HttpAnswer(status=exc.code, body=exc.read())
    except TimeoutError as exc:
        raise TransportError(f"no answer within {timeout:g} seconds") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise TransportError(f"no answer within {timeout:g} seconds") from exc
        raise TransportError(str(reason)) from exc


def failure_for_status(status: int, reason: str) -> SendResult:
    """Map a non-2xx status: 5xx, 408 and 429 may pass later; other 4xx never will."""
    if status >= 500 or status in (408, 425, 429):
        return temporary(reason)
    return permanent(reason)
