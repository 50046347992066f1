"""A local Mollie v2 API: /v2/payments and their refunds, in Mollie's documented JSON (HAL links,
amounts as {"currency", "value": "10.00"}, errors as {"status", "title", "detail", "field"}).

Like Mollie it keeps the first answer per Idempotency-Key (a repeat is answered again with
Idempotent-Replayed: true; the same key with another body is a 422), and its webhook is what
Mollie posts: a form body `id=tr_...` with no signature.
"""

from __future__ import annotations

import itertools
import json
import re
from decimal import Decimal
from typing import Any

from tests.connectors.fake_http import FakeServer, Reply, Request

API_KEY = "test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM"
HAL = {"Content-Type": "application/hal+json"}


def problem(status: int, title: str, detail: str, field: str | None = None) -> Reply:
    body: dict[str, Any] = {"status": status, "title": title, "detail": detail}
    if field:
        body["field"] = field
    return Reply(status, body, dict(HAL))


class FakeMollie(FakeServer):
    """Payments kept in memory; tests move them with pay(), fail(), refund state, chargeback()."""

    def __init__(self) -> None:
        super().__init__()
        self.payments: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self.route("POST", r"/v2/payments", self._create)
        self.route("GET", r"/v2/payments/(?P<id>[^/]+)", self._get)
        self.route("POST", r"/v2/payments/(?P<id>[^/]+)/refunds", self._refund)
        self.route("GET", r"/v2/payments/(?P<id>[^/]+)/refunds", self._list_refunds)
        self.refunds: list[dict[str, Any]] = []

    # -- what happens to a payment at Mollie --------------------------------------------------

    def set(self, payment_id: str, **fields: Any) -> None:
        with self.lock:
            self.payments[payment_id].update(fields)

    def pay(self, payment_id: str, method: str = "creditcard") -> None:
        self.set(payment_id, status="paid", method=method)

    def fail(self, payment_id: str, reason: str, message: str) -> None:
        self.set(
            payment_id,
            status="failed",
            details={"failureReason": reason, "failureMessage": message},
        )

    def chargeback(self, payment_id: str, value: str | None = None) -> None:
        payment = self.payments[payment_id]
        amount = {
            "currency": payment["amount"]["currency"],
            "value": value or payment["amount"]["value"],
        }
        self.set(payment_id, amountChargedBack=amount)

    @staticmethod
    def webhook(payment_id: str) -> bytes:
        """What Mollie posts to the webhookUrl."""
        return f"id={payment_id}".encode()

    # -- routes -------------------------------------------------------------------------------

    def _auth(self, request: Request) -> Reply | None:
        if request.header("Authorization") != f"Bearer {API_KEY}":
            return problem(
                401, "Unauthorized Request", "Missing authentication, or failed to authenticate"
            )
        return None

    def _conflict(self, _: Reply) -> Reply:
        return problem(
            422,
            "Unprocessable Entity",
            "The idempotency key was already used with a different request body",
        )

    def _replayed(self, request: Request, create) -> Reply:  # type: ignore[no-untyped-def]
        key = request.header("Idempotency-Key")
        known = key is not None and (request.path, key) in self.idempotent
        reply = self.once(request, create, self._conflict)
        if known and reply.status < 300:
            return Reply(reply.status, reply.body, {**reply.headers, "Idempotent-Replayed": "true"})
        return reply

    def _create(self, request: Request, _: re.Match[str]) -> Reply:
        def create() -> Reply:
            data = request.json()
            amount = data.get("amount") or {}
            value = amount.get("value")
            currency = amount.get("currency")
            places = 0 if currency in ("JPY", "ISK") else 2
            pattern = r"\d+" if places == 0 else r"\d+\.\d{2}"
            if not isinstance(value, str) or not re.fullmatch(pattern, value):
                return problem(
                    422,
                    "Unprocessable Entity",
                    f"The amount contains an invalid value for {currency}",
                    "amount.value",
                )
            if Decimal(value) <= 0:
                return problem(
                    422, "Unprocessable Entity", "The amount is lower than minimum", "amount"
                )
            if not data.get("redirectUrl"):
                return problem(
                    422, "Unprocessable Entity", "The redirect URL is required", "redirectUrl"
                )
            payment_id = f"tr_fake{next(self._ids)}"
            methods = data.get("method")
            payment = {
                "resource": "payment",
                "id": payment_id,
                "mode": "test",
                "status": "open",
                "amount": amount,
                "description": data.get("description"),
                "method": methods[0] if isinstance(methods, list) and len(methods) == 1 else None,
                "metadata": data.get("metadata"),
                "locale": data.get("locale"),
                "redirectUrl": data.get("redirectUrl"),
                "cancelUrl": data.get("cancelUrl"),
                "webhookUrl": data.get("webhookUrl"),
                "_links": {
                    "self": {
                        "href": f"{self.base_url}/v2/payments/{payment_id}",
                        "type": "application/hal+json",
                    },
                    "checkout": {
                        "href": f"https://www.mollie.com/checkout/select-method/{payment_id}",
                        "type": "text/html",
                    },
                },
            }
            self.payments[payment_id] = payment
            return Reply(201, payment, dict(HAL))

        return self._auth(request) or self._replayed(request, create)

    def _get(self, request: Request, match: re.Match[str]) -> Reply:
        payment = self.payments.get(match["id"])
        if payment is None:
            return self._auth(request) or problem(
                404, "Not Found", f"No payment exists with token {match['id']}."
            )
        return self._auth(request) or Reply(200, json.loads(json.dumps(payment)), dict(HAL))

    def _refund(self, request: Request, match: re.Match[str]) -> Reply:
        def create() -> Reply:
            payment = self.payments.get(match["id"])
            if payment is None:
                return problem(404, "Not Found", f"No payment exists with token {match['id']}.")
            if payment["status"] != "paid":
                return problem(422, "Unprocessable Entity", "The payment is not refundable")
            data = request.json()
            value = Decimal(data["amount"]["value"])
            total = Decimal(payment["amount"]["value"])
            done = Decimal((payment.get("amountRefunded") or {"value": "0"})["value"])
            if value > total - done:
                return problem(
                    422,
                    "Unprocessable Entity",
                    f"The amount is higher than the remaining amount of {total - done}",
                    "amount",
                )
            currency = payment["amount"]["currency"]
            fmt = "f" if currency in ("JPY", "ISK") else ".2f"
            payment["amountRefunded"] = {"currency": currency, "value": format(done + value, fmt)}
            payment["amountRemaining"] = {
                "currency": currency,
                "value": format(total - done - value, fmt),
            }
            refund = {
                "resource": "refund",
                "id": f"re_fake{next(self._ids)}",
                "amount": data["amount"],
                "status": "pending",
                "paymentId": payment["id"],
                "description": data.get("description"),
                "metadata": data.get("metadata"),
            }
            self.refunds.append(refund)
            return Reply(201, refund, dict(HAL))

        return self._auth(request) or self._replayed(request, create)

    def _list_refunds(self, request: Request, match: re.Match[str]) -> Reply:
        mine = [r for r in self.refunds if r["paymentId"] == match["id"]]
        body = {"count": len(mine), "_embedded": {"refunds": mine}, "_links": {"next": None}}
        return self._auth(request) or Reply(200, body, dict(HAL))
