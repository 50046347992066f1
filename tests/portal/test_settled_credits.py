"""A credit settled by staff leaves the portal; the rest of a partial set-off stays shown."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from engine import CreditActor, Database, Settlement, VirtualClock, settle_credit
from engine.storage.models import DebtorCreditRow
from tests.factories import case_row
from tests.portal.test_items import person  # noqa: F401 (the fixture)

STAFF = CreditActor("anna@example.org", 1, "manager")


def _credit(db: Database, clock: VirtualClock, minor: int) -> tuple[int, int]:
    with db.transaction() as session:
        debtor = case_row(session, "INV-MAR").debtor_id
        assert debtor is not None
        row = DebtorCreditRow(
            debtor_id=debtor, amount_minor=minor, currency="EUR", state="kept",
            created_at=clock.now.replace(tzinfo=None),
        )  # fmt: skip
        session.add(row)
        session.flush()
        return debtor, row.id


def test_a_credit_paid_back_is_no_longer_shown(
    client: FlaskClient,
    db: Database,
    clock: VirtualClock,
    person: dict[str, Any],  # noqa: F811
) -> None:
    debtor, credit = _credit(db, clock, 4000)
    assert "You have a credit of €40.00" in client.get(person["link"]).get_data(as_text=True)

    with db.transaction() as session:
        back = Settlement("paid_back", paid_on=clock.now.date())
        settle_credit(session, debtor, credit, back, STAFF, clock.now)

    assert "You have a credit" not in client.get(person["link"]).get_data(as_text=True)


def test_the_rest_of_a_set_off_is_still_shown(
    client: FlaskClient,
    db: Database,
    clock: VirtualClock,
    person: dict[str, Any],  # noqa: F811
) -> None:
    debtor, credit = _credit(db, clock, 10000)  # January owes 40.00: 60.00 stay kept

    with db.transaction() as session:
        settle_credit(
            session, debtor, credit, Settlement("set_off", case_ref="INV-JAN"), STAFF, clock.now
        )

    assert "You have a credit of €60.00" in client.get(person["link"]).get_data(as_text=True)
