"""Who may see what: an anonymous sweep of every URL rule, roles, and htmx login redirects."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter

from tests.fixtures.apps import post_form

PUBLIC_ENDPOINTS = {
    "static",
    "discovery.feed",
    "discovery.search",
    "accounts.login",
    "accounts.register",
    "accounts.profile",
    "platform.health",
}


def example_url(app: Flask, rule) -> str:
    values = {}
    for name in rule.arguments:
        values[name] = 1 if isinstance(rule._converters[name], IntegerConverter) else "x"
    with app.test_request_context():
        return app.url_for(rule.endpoint, **values)


def test_every_non_public_page_refuses_anonymous_visitors(app, client):
    checked = []
    for rule in app.url_map.iter_rules():
        url = example_url(app, rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            if rule.endpoint in PUBLIC_ENDPOINTS:
                continue
            checked.append((method, url))
            assert response.status_code != 200, f"{method} {url} answered 200 to an anonymous visitor"
            assert response.status_code in (302, 400, 401, 403, 404, 405), (method, url, response.status_code)
    assert ("GET", "/admin/") in checked and ("GET", "/settings") in checked and ("POST", "/logout") in checked


@pytest.mark.parametrize(
    ("client_fixture", "allowed"),
    [
        ("viewer_client", set()),
        ("creator_client", {"/studio/"}),
        ("moderator_client", {"/moderation/"}),
        ("admin_client", {"/studio/", "/moderation/", "/admin/"}),
    ],
)
def test_role_gated_pages(request, client_fixture, allowed):
    client = request.getfixturevalue(client_fixture)
    for url in ("/studio/", "/moderation/", "/admin/"):
        response = client.get(url)
        expected = 200 if url in allowed else 403
        assert response.status_code == expected, (client_fixture, url)
    nav = client.get("/").get_data(as_text=True)
    assert ('href="/studio/"' in nav) == ("/studio/" in allowed)
    assert ('href="/admin/"' in nav) == ("/admin/" in allowed)


def test_htmx_request_needing_login_gets_hx_redirect(htmx_client):
    response = htmx_client.get("/settings")
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/settings"
    assert response.get_data(as_text=True) == ""


def test_plain_request_needing_login_redirects_to_login(client):
    response = client.get("/settings")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/settings"


def test_admin_changes_a_role_and_it_is_audited(app, admin_client, user_factory):
    user = user_factory(role="viewer")
    response = post_form(admin_client, f"/admin/users/{user.id}/role", {"role": "creator", "tier": "pro"},
                         page="/admin/")
    assert response.status_code == 303
    html = admin_client.get("/admin/").get_data(as_text=True)
    assert "permission.changed" in html
    from wm.extensions import db
    from wm.models.accounts import User

    with app.app_context():
        changed = db.session.get(User, user.id)
        assert (changed.role.value, changed.tier.value) == ("creator", "pro")


def test_non_admin_cannot_change_roles(viewer_client, user_factory):
    other = user_factory(role="viewer")
    response = post_form(viewer_client, f"/admin/users/{other.id}/role", {"role": "admin", "tier": "pro"})
    assert response.status_code == 403


def test_admin_role_form_refuses_bad_values(admin_client, user_factory):
    other = user_factory()
    response = post_form(admin_client, f"/admin/users/{other.id}/role", {"role": "emperor", "tier": "pro"})
    assert response.status_code == 400 and "Unknown role or tier." in response.get_data(as_text=True)
    response = post_form(admin_client, "/admin/users/999999/role", {"role": "viewer", "tier": "free"})
    assert response.status_code == 404
    response = post_form(admin_client, f"/admin/users/{admin_client.user.id}/role", {"role": "viewer", "tier": "free"})
    assert response.status_code == 400 and "own admin role" in response.get_data(as_text=True)


def test_admin_dashboard_charts_queue_depths(app, admin_client):
    from wm.queues import enqueue

    with app.app_context():
        enqueue("low", "tests.fixtures.workers.record_marker", "waiting")
    page = admin_client.get("/admin/").get_data(as_text=True)
    assert '<svg viewBox="0 0 420 154"' in page and ">low</text>" in page and ">1 / 0 / 0</text>" in page
    fragment = admin_client.get("/admin/queues", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith("<figure") and 'hx-trigger="load delay:5s"' in fragment
