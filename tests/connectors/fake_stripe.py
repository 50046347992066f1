"""A local Stripe for what localstripe lacks: Checkout Sessions, declines, disputes, idempotency,
server errors and stalls. It speaks Stripe's wire format: form-encoded bracketed parameters in,
JSON objects and {"error": {"type", "code", "decline_code", "message", "param"}} out."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import time
from typing import Any
from urllib.parse import parse_qsl

from tests.connectors.fake_http import FakeServer, Reply, Request

API_KEY = "sk_test_fake"
WEBHOOK_SECRET = "whsec_fake_secret"


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's a[b][0][c]=v form keys back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


def sign(body: bytes, secret: str = WEBHOOK_SECRET, at: float | None = None) -> str:
    """A Stripe-Signature header for body, as Stripe computes it."""
    stamp = int(time.time() if at is None else at)
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def error(status: int, kind: str, message: str, **extra: str) -> Reply:
    return Reply(status, {"error": {"type": kind, "message": message, **extra}})


class FakeStripe(FakeServer):
    """PaymentIntents, Checkout Sessions, charges, refunds and disputes, kept in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self.route("POST", r"/v1/payment_intents", self._create_intent)
        self.route("GET", r"/v1/payment_intents/(?P<id>[^/]+)", self._get_intent)
        self.route("POST", r"/v1/checkout/sessions", self._create_session)
        self.route("GET", r"/v1/checkout/sessions/(?P<id>[^/]+)", self._get_session)
        self.route("GET", r"/v1/charges/(?P<id>[^/]+)", self._get_charge)
        self.route("POST", r"/v1/refunds", self._create_refund)
        self.route("GET", r"/v1/disputes", self._list_disputes)

    # -- what a test does to a payment at Stripe ----------------------------------------------

    def succeed(self, intent_id: str, method: str = "card") -> dict[str, Any]:
        """The debtor paid: the intent succeeds with a charge."""
        with self.lock:
            intent = self.objects[intent_id]
            charge = self._new(
                "ch",
                object="charge",
                amount=intent["amount"],
                currency=intent["currency"],
                payment_intent=intent_id,
                status="succeeded",
                amount_refunded=0,
                refunded=False,
                disputed=False,
                payment_method_details={"type": method},
            )
            intent.update(status="succeeded", latest_charge=charge["id"], last_payment_error=None)
            return charge

    def decline(self, intent_id: str, code: str, message: str) -> None:
        """The debtor's card was declined when they confirmed on Stripe's page."""
        with self.lock:
            self.objects[intent_id].update(
                status="requires_payment_method",
                last_payment_error={
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": code,
                    "message": message,
                },
            )

    def dispute(self, intent_id: str, status: str = "needs_response") -> dict[str, Any]:
        """The debtor's bank disputes the charge (money withdrawn unless the dispute is won)."""
        with self.lock:
            charge = self.objects[self.objects[intent_id]["latest_charge"]]
            charge["disputed"] = True
            return self._new(
                "dp",
                object="dispute",
                charge=charge["id"],
                payment_intent=intent_id,
                amount=charge["amount"],
                currency=charge["currency"],
                status=status,
                reason="fraudulent",
            )

    def complete_session(self, session_id: str) -> None:
        """The debtor paid on the hosted page."""
        with self.lock:
            session = self.objects[session_id]
            self.succeed(session["payment_intent"])
            session.update(status="complete", payment_status="paid")

    def event(self, kind: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
        """A webhook body as Stripe sends it."""
        event = {
            "id": event_id or f"evt_{next(self._ids)}",
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
        }
        return json.dumps(event).encode()

    # -- routes -------------------------------------------------------------------------------

    def _new(self, prefix: str, **fields: Any) -> dict[str, Any]:
        obj = {"id": f"{prefix}_fake{next(self._ids)}", "livemode": False, **fields}
        self.objects[obj["id"]] = obj
        return obj

    def _check(self, request: Request) -> Reply | None:
        if request.header("Authorization") != f"Bearer {API_KEY}":
            return error(401, "invalid_request_error", "Invalid API Key provided")
        return None

    def _conflict(self, _: Reply) -> Reply:
        return error(
            400,
            "idempotency_error",
            "Keys for idempotent requests can only be used with the same parameters "
            "they were first used with.",
        )

    def _form(self, request: Request) -> dict[str, Any]:
        return unflatten(parse_qsl(request.body.decode(), keep_blank_values=True))

    def _create_intent(self, request: Request, _: re.Match[str]) -> Reply:
        def create() -> Reply:
            form = self._form(request)
            if not form.get("amount", "").isdigit() or int(form["amount"]) < 1:
                return error(400, "invalid_request_error", "Invalid integer", param="amount")
            intent = self._intent(form)
            return Reply(200, intent)

        return self._check(request) or self.once(request, create, self._conflict)

    def _intent(self, form: dict[str, Any]) -> dict[str, Any]:
        intent = self._new(
            "pi",
            object="payment_intent",
            amount=int(form["amount"]),
            currency=form["currency"],
            status="requires_payment_method",
            description=form.get("description"),
            metadata=form.get("metadata", {}),
            payment_method_types=form.get("payment_method_types", ["card"]),
            latest_charge=None,
            last_payment_error=None,
        )
        intent["client_secret"] = f"{intent['id']}_secret_fake"
        return intent

    def _expand(self, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
        obj = json.loads(json.dumps(obj))
        for path in paths:
            node = obj
            for part in path.split("."):
                ref = node.get(part)
                if isinstance(ref, str) and ref in self.objects:
                    node[part] = json.loads(json.dumps(self.objects[ref]))
                node = node.get(part) if isinstance(node.get(part), dict) else {}
        return obj

    def _expansions(self, request: Request) -> list[str]:
        return [v for k, v in request.query.items() if k.startswith("expand")]

    def _get(self, request: Request, obj_id: str, kind: str) -> Reply:
        obj = self.objects.get(obj_id)
        if obj is None or obj.get("object") != kind:
            return error(404, "invalid_request_error", f"No such {kind}: '{obj_id}'", param="id")
        return Reply(200, self._expand(obj, self._expansions(request)))

    def _get_intent(self, request: Request, match: re.Match[str]) -> Reply:
        return self._check(request) or self._get(request, match["id"], "payment_intent")

    def _get_charge(self, request: Request, match: re.Match[str]) -> Reply:
        return self._check(request) or self._get(request, match["id"], "charge")

    def _get_session(self, request: Request, match: re.Match[str]) -> Reply:
        return self._check(request) or self._get(request, match["id"], "checkout.session")

    def _create_session(self, request: Request, _: re.Match[str]) -> Reply:
        def create() -> Reply:
            form = self._form(request)
            item = form["line_items"][0]["price_data"]
            data = form.get("payment_intent_data", {})
            intent = self._intent(
                {
                    "amount": item["unit_amount"],
                    "currency": item["currency"],
                    "description": data.get("description"),
                    "metadata": data.get("metadata", {}),
                    "payment_method_types": form.get("payment_method_types"),
                }
            )
            session = self._new(
                "cs_test",
                object="checkout.session",
                mode=form["mode"],
                status="open",
                payment_status="unpaid",
                amount_total=int(item["unit_amount"]),
                currency=item["currency"],
                payment_intent=intent["id"],
                metadata=form.get("metadata", {}),
                client_reference_id=form.get("client_reference_id"),
                success_url=form["success_url"],
                cancel_url=form["cancel_url"],
                locale=form.get("locale"),
            )
            session["url"] = f"https://checkout.stripe.com/c/pay/{session['id']}"
            return Reply(200, session)

        return self._check(request) or self.once(request, create, self._conflict)

    def _create_refund(self, request: Request, _: re.Match[str]) -> Reply:
        def create() -> Reply:
            form = self._form(request)
            intent = self.objects.get(form.get("payment_intent", ""))
            if intent is None or intent["status"] != "succeeded":
                return error(
                    400, "invalid_request_error", "This PaymentIntent has no successful charge"
                )
            charge = self.objects[intent["latest_charge"]]
            left = charge["amount"] - charge["amount_refunded"]
            amount = int(form.get("amount") or left)
            if amount > left:
                return error(
                    400,
                    "invalid_request_error",
                    f"Refund amount ({amount}) is greater than unrefunded amount ({left})",
                    param="amount",
                )
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]
            refund = self._new(
                "re",
                object="refund",
                amount=amount,
                currency=charge["currency"],
                charge=charge["id"],
                payment_intent=intent["id"],
                status="succeeded",
                metadata=form.get("metadata", {}),
            )
            return Reply(200, refund)

        return self._check(request) or self.once(request, create, self._conflict)

    def _list_disputes(self, request: Request, _: re.Match[str]) -> Reply:
        wanted = request.query.get("payment_intent")
        data = [
            o
            for o in self.objects.values()
            if o.get("object") == "dispute" and o["payment_intent"] == wanted
        ]
        return self._check(request) or Reply(
            200, {"object": "list", "data": data, "has_more": False, "url": "/v1/disputes"}
        )
