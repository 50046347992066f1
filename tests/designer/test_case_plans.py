"""Staff set up a plan from the case page: managers and admins only, the same plan and event as
the portal's, a double click storing one plan, a refusal in words naming the field."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import utcnow
from engine.storage.models import EventRow, PaymentPlanRow
from mahnwerk_web.db import get_db
from tests.designer.conftest import login
from tests.engine.payments.conftest import plan_doc
from tests.factories import make_case, publish


@pytest.fixture
def case_id(app: Flask) -> int:
    with app.app_context(), get_db().transaction() as session:
        version = publish(session, plan_doc(), utcnow())
        return make_case(session, version, utcnow(), external_id="STAFF-PLAN").id


def _form(client: FlaskClient, case_id: int) -> dict[str, str]:
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    once = re.search(r'name="once" value="([^"]+)"', html)
    first = re.search(r'id="plan-first" name="first_date" value="([^"]+)"', html)
    assert once and first, html
    return {"once": once.group(1), "first_date": first.group(1), "instalments": "4"}


def _rows(app: Flask, kind: type) -> list:
    with app.app_context(), get_db().transaction() as session:
        rows = session.scalars(select(kind)).all()
        session.expunge_all()
        return list(rows)


def test_a_manager_agrees_a_plan_once(app: Flask, manager: FlaskClient, case_id: int) -> None:
    data = _form(manager, case_id)
    first = manager.post(f"/cases/{case_id}/plan", data=data)
    second = manager.post(f"/cases/{case_id}/plan", data=data)  # a double click
    assert first.status_code == second.status_code == 303
    [plan] = _rows(app, PaymentPlanRow)
    assert plan.agreed_by == "manager@example.org" and plan.total_minor == 25000
    assert [e.type for e in _rows(app, EventRow)] == ["plan_agreed"]
    page = manager.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Instalment plan" in page and "€62.50" in page and "Agree the plan" not in page


def test_out_of_limits_is_named(app: Flask, manager: FlaskClient, case_id: int) -> None:
    data = {**_form(manager, case_id), "instalments": "9"}
    manager.post(f"/cases/{case_id}/plan", data=data)
    page = manager.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Instalments: Please choose between 2 and 6 instalments." in page
    data = {**_form(manager, case_id), "first_date": "2020-01-01"}
    manager.post(f"/cases/{case_id}/plan", data=data)
    page = manager.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "First instalment on: Please choose a first date between" in page
    data = {**_form(manager, case_id), "first_date": "soon"}
    manager.post(f"/cases/{case_id}/plan", data=data)
    assert "please enter a date" in manager.get(f"/cases/{case_id}").get_data(as_text=True)
    assert _rows(app, PaymentPlanRow) == []


def test_a_viewer_sees_no_form_and_may_not_post(
    app: Flask, client: FlaskClient, case_id: int
) -> None:
    viewer = login(client, "viewer")
    assert "Agree the plan" not in viewer.get(f"/cases/{case_id}").get_data(as_text=True)
    data = {"once": "a" * 22, "instalments": "2", "first_date": "2026-01-01"}
    assert viewer.post(f"/cases/{case_id}/plan", data=data).status_code == 403
    assert _rows(app, PaymentPlanRow) == []


def test_a_changed_then_cancelled_plan_reads_on_the_case_page(
    app: Flask, manager: FlaskClient, case_id: int
) -> None:
    """The debtor changed the plan, then cancelled it: the page says so and offers a new one."""
    from datetime import timedelta

    from engine import cancel_plan, change_plan

    manager.post(f"/cases/{case_id}/plan", data=_form(manager, case_id))
    [old] = _rows(app, PaymentPlanRow)
    with app.app_context(), get_db().transaction() as session:
        first = utcnow().date() + timedelta(days=2)  # within the limits in any time zone
        new, _ = change_plan(session, case_id, old.id, "c1", 2, first, utcnow())
    page = manager.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "€125.00" in page and "Agree the plan" not in page
    with app.app_context(), get_db().transaction() as session:
        cancel_plan(session, case_id, new.id, utcnow())
    page = manager.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Agree the plan for the debtor" in page
    assert [e.type for e in _rows(app, EventRow)] == [
        "plan_agreed",
        "plan_changed",
        "plan_cancelled",
    ]
