"""Paying from the portal: "Pay now", the page a payment returns to, and the sandbox's page.

`/p/<token>/pay` starts (or, for a double click, finds again) a checkout at the provider the
journey names (`engine.start_checkout`) and redirects the debtor there. The provider sends
them back to `/p/<token>/payment/<intent>`, which asks the provider for the payment's state
and says it in words; that page still opens after the payment closed the case. The sandbox
provider's hosted page is served here too, `/p/sandbox/checkout/<payment_id>`, clearly marked
as moving no money: its buttons set the sandbox payment's state and hand the signed webhook
to the same intake the API's /hooks/payments/sandbox uses, processed at once (the sandbox
answers its status fetch from a local folder), then go back to the payment's return URL.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, get_currency_precision
from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from connectors.base import ConnectorError
from connectors.payment import PaymentError
from engine import (
    DebtorItem,
    ItemsRefused,
    PaymentOptions,
    PaymentRefused,
    PortalMoney,
    intent_status,
    parse_amount,
    start_checkout,
    start_items_checkout,
    take_provider_webhook,
)
from mahnwerk_web import db
from mahnwerk_web.payments import providers
from portal import PREFIX, current_lang, now
from portal.views import ONCE, _page, open_case

bp = Blueprint("portal_payments", __name__, url_prefix=PREFIX)

SANDBOX_OUTCOMES = ("pay", "fail", "abandon")


def method_words() -> dict[str, str]:
    """Each payment method in the page's language."""
    return {
        "card": _("Card"),
        "sepa_debit": _("SEPA direct debit"),
        "paypal": "PayPal",
        "bank_transfer": _("Bank transfer"),
        "sofort": "Sofort",
        "ideal": "iDEAL",
    }


def locale_code() -> str:
    """The babel locale amounts are written in."""
    return "de_DE" if current_lang() == "de" else "en_GB"


def money(amount_minor: int, currency: str) -> str:
    """An amount in minor units, written as the page's language writes money."""
    places = get_currency_precision(currency)
    amount = Decimal(amount_minor) / (Decimal(10) ** places)
    return format_currency(amount, currency, locale=locale_code())


def pay_section(options: PaymentOptions) -> dict[str, Any]:
    """What the case page's "Pay now" section shows (options read with the page's money)."""
    words = method_words()
    return {
        "refused": options.refused,
        "amount": money(options.amount_minor, options.currency),
        "amount_minor": options.amount_minor,
        "currency": options.currency,
        "methods": [(m, words.get(m, m)) for m in options.methods],
        "provider": options.provider,
    }


def _status_words(item: DebtorItem) -> str:
    if item.hold_reason == "dispute":
        return _("Disputed")
    if item.status == "held":
        return _("On hold")
    return _("Open")


def items_section(found: PortalMoney, errors: dict[str, str]) -> dict[str, Any]:
    """The person's open items for "What is owed" and the checkout of several: shown when the
    debtor owes more than this case (or has a credit); a case alone looks as it always did."""
    items = []
    for item in found.items:
        items.append(
            {
                "id": item.case_id,
                "reference": item.reference,
                "amount": money(item.amount_minor, item.currency),
                "amount_minor": item.amount_minor,
                "currency": item.currency,
                "due": format_date(item.due_date, "medium", locale=locale_code()),
                "status": _status_words(item),
                "current": item.current,
                # One checkout takes one currency: the page case's.
                "payable": item.amount_minor > 0 and item.currency == found.options.currency,
            }
        )
    if request.method == "POST" and request.form.get("items") == "1":
        chosen = set(request.form.getlist("item"))  # the form again, as the debtor sent it
    else:
        chosen = {str(i["id"]) for i in items if i["current"]}
    for item in items:
        item["checked"] = item["payable"] and str(item["id"]) in chosen
    total = sum(i["amount_minor"] for i in items if i["checked"])
    credits = [money(c.amount_minor, c.currency) for c in found.credits]
    shown = len(items) > 1 or bool(credits)
    return {
        "shown": shown,
        "list": items,
        "credits": credits,
        "total": money(total, found.options.currency),
        "lang": locale_code().replace("_", "-"),
        "amount": request.form.get("amount", "") if request.method == "POST" else "",
        "errors": {k: v for k, v in errors.items() if k in ("item", "amount")},
    }


def item_error_words(exc: ItemsRefused) -> str:
    """What the debtor is told about a choice that cannot be paid, naming the field."""
    if exc.field == "amount":
        if exc.reason == "range" and exc.limit is not None:
            return _(
                "Amount to pay: please enter an amount between %(low)s and %(high)s.",
                low=money(1, current_currency()),
                high=money(exc.limit, current_currency()),
            )
        return _("Amount to pay: please enter an amount such as 120.50.")
    if exc.reason == "none":
        return _("Invoices to pay: please choose at least one invoice.")
    if exc.reason == "too_many":
        return _("Invoices to pay: please choose at most %(n)s invoices.", n=exc.limit)
    if exc.reason == "currency":
        return _("Invoices to pay: please choose invoices in one currency.")
    return _("Invoices to pay: please choose among the invoices shown.")


def current_currency() -> str:
    """The page case's currency (the one checkout's)."""
    return str(getattr(g, "case_currency", "EUR"))


def _message(title: str, text: str, status: int, token: str | None = None) -> tuple[str, int]:
    back = url_for("portal.case_page", token=token) if token else None
    return render_template("portal/link.html", title=title, text=text, back=back), status


def refused_page(reason: str, token: str) -> tuple[str, int]:
    """A clear page for a case that cannot be paid now."""
    if reason == "closed":
        return _message(_("This case is closed"), _("There is nothing more to pay."), 410)
    if reason == "nothing_open":
        return _message(
            _("There is nothing to pay"),
            _("No amount is open on this case. Thank you."),
            409,
            token,
        )
    if reason == "method":
        return _message(
            _("Please choose a way to pay"),
            _("Choose one of the ways to pay shown on your page."),
            422,
            token,
        )
    return _message(
        _("Paying online is not possible here"),
        _("Please choose another way to pay, or contact us."),
        409,
        token,
    )


@bp.post("/<token>/pay")
def pay(token: str) -> Any:
    """Start the checkout (the whole open amount, or the chosen items of the person) and send
    the debtor to the provider."""
    access, case = open_case(token)
    if not ONCE.match(request.form.get("once", "")):
        return _message(_("The form is incomplete"), _("Please try again."), 400, token)
    method = request.form.get("method", "")
    urls = (
        url_for("portal_payments.returned", token=token, intent=0, _external=True).replace(
            "/payment/0", "/payment/{intent}"
        ),
        url_for("portal.case_page", token=token, _external=True),
    )
    description = _("Reference %(ref)s", ref=case.reference)
    try:
        if request.form.get("items") == "1":  # the form listing the person's open items
            g.case_currency = case.currency
            chosen = request.form.getlist("item")
            amount = parse_amount(request.form.get("amount", ""), case.currency)
            started = start_items_checkout(
                db.get_db(), providers(), access.case_id, chosen, amount, method, urls, now(),
                locale=current_lang(),
            )  # fmt: skip
        else:
            started = start_checkout(
                db.get_db(), providers(), access.case_id, method, urls, now(),
                description=description, locale=current_lang(),
            )  # fmt: skip
    except ItemsRefused as exc:
        return _page(token, case, {exc.field: item_error_words(exc), "action": "pay"}, 422)
    except PaymentRefused as exc:
        return refused_page(exc.reason, token)
    except ConnectorError as exc:  # PaymentError, or a provider whose settings are wrong
        if isinstance(exc, PaymentError) and exc.temporary:
            return _message(
                _("The payment service did not answer"),
                _("Nothing was charged. Please try again in a moment."),
                503,
                token,
            )
        return _message(
            _("The payment could not be started"),
            _("Nothing was charged. Please try again later or choose another way to pay."),
            502,
            token,
        )
    return redirect(started.redirect_url, code=303)


@bp.get("/<token>/payment/<int:intent>")
def returned(token: str, intent: int) -> Any:
    """Where the provider sends the debtor back: the payment's state, in words."""
    access, _case = open_case(token, closed_ok=True)
    state = intent_status(db.get_db(), providers(), access.case_id, intent)
    if state is None:
        abort(404)
    if state in ("paid", "refunded", "charged_back"):
        title, text, kind = _("Thank you, your payment has arrived"), _paid_text(), "paid"
    elif state == "failed":
        title = _("The payment did not go through")
        text = _("Nothing was charged. You can try again, or choose another way to pay.")
        kind = "failed"
    elif state == "canceled":
        title = _("The payment was not completed")
        text = _("Nothing was charged. You can pay whenever you are ready.")
        kind = "failed"
    else:
        title = _("Your payment is being processed")
        text = _("This can take a moment. We will let you know when it has arrived.")
        kind = "pending"
    back = None if kind == "paid" else url_for("portal.case_page", token=token)
    return render_template(
        "portal/payment.html", title=title, text=text, kind=kind, state=state, back=back
    )


def _paid_text() -> str:
    return _("We will send you no more reminders about this claim.")


@bp.get("/sandbox/checkout/<payment_id>")
def sandbox_checkout(payment_id: str) -> Any:
    """The sandbox provider's hosted page: Pay, Fail or Abandon, no real money."""
    _sandbox, payment = _sandbox_payment(payment_id)
    g.case_lang = str(payment.get("locale") or "en")[:2]
    return render_template(
        "portal/sandbox_checkout.html",
        payment=payment,
        amount=money(payment["amount_minor"], payment["currency"]),
        method=method_words().get(payment["methods"][0], payment["methods"][0]),
    )


@bp.post("/sandbox/checkout/<payment_id>")
def sandbox_complete(payment_id: str) -> Any:
    """The debtor's click: set the sandbox payment's state, deliver its signed webhook, go back."""
    sandbox, payment = _sandbox_payment(payment_id)
    outcome = request.form.get("outcome", "")
    if outcome not in SANDBOX_OUTCOMES:
        abort(400)
    hook = sandbox.complete(payment_id, outcome, payment["methods"][0])
    take_provider_webhook(db.get_db(), providers(), "sandbox", hook.headers, hook.body, now())
    # Every outcome goes to the return page, which says in words what became of the payment
    # (an abandoned one included); cancel_url is for providers that cannot tell.
    return redirect(payment["return_url"], code=303)


def _sandbox_payment(payment_id: str) -> tuple[Any, dict[str, Any]]:
    registry = providers()
    if "sandbox" not in registry.profiles:
        abort(404)
    sandbox = registry.get("sandbox")
    try:
        return sandbox, sandbox.payment(payment_id)  # type: ignore[attr-defined]
    except PaymentError:
        abort(404)
