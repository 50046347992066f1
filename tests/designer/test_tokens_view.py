"""API tokens in the designer (issue 16, point 16): admins create one with its scopes, see it
once, revoke it; the API takes it, then refuses it; nobody else reaches the page."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import list_tokens
from mahnwerk_web.db import transaction
from tests.designer.conftest import login

URL = "/settings/tokens"


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    login(client, "admin")
    return client


def test_an_admin_creates_a_token_shown_once_and_revokes_it(admin: FlaskClient, app: Flask) -> None:
    response = admin.post(URL, data={"name": "ERP", "scopes": ["read", "write"]})
    page = response.get_data(as_text=True)
    assert response.status_code == 201
    token = re.search(r'<code id="new-token">(mw_[\w-]+)</code>', page)[1]
    assert "shown only this once" in page
    # never again: the list shows only its first characters
    listing = admin.get(URL).get_data(as_text=True)
    assert token not in listing and token[:10] in listing and "read, write" in listing
    with app.app_context(), transaction() as session:
        (row,) = list_tokens(session)
        assert (row.name, row.scopes, row.prefix) == ("ERP", ["read", "write"], token[:10])
        assert token not in str(vars(row))  # only its hash is stored
        token_id = row.id
    admin.post(f"{URL}/{token_id}/revoke")
    assert "revoked" in admin.get(URL).get_data(as_text=True)
    with app.app_context(), transaction() as session:
        assert list_tokens(session) == []  # revoked: the API refuses it (engine.verify_token)


def test_a_token_needs_a_name_and_a_scope_and_keeps_what_was_entered(admin: FlaskClient) -> None:
    response = admin.post(URL, data={"name": "   ", "scopes": []})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="token-name-error"' in page and 'id="token-scopes-error"' in page
    response = admin.post(URL, data={"name": "ERP", "scopes": ["root"]})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'value="ERP"' in page


def test_revoking_an_unknown_token_says_so(admin: FlaskClient) -> None:
    response = admin.post(f"{URL}/9999/revoke", follow_redirects=True)
    assert "There is no such token." in response.get_data(as_text=True)


@pytest.mark.parametrize("who", ["manager", "viewer"])
def test_only_admins_reach_the_token_page(client: FlaskClient, who: str) -> None:
    login(client, who)
    assert client.get(URL).status_code == 403
    assert client.post(URL, data={"name": "x", "scopes": ["read"]}).status_code == 403
