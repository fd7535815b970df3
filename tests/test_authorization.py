"""Who may see what: an anonymous sweep of every URL rule, roles, and htmx login redirects."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter

from tests.fixtures.apps import post_form
from tests.fixtures.users import log_in

PUBLIC_ENDPOINTS = {
    "static",
    "discovery.feed",
    "discovery.search",
    "accounts.login",
    "accounts.register",
    "accounts.profile",
    "platform.health",
    "api-docs.openapi_json",
    "platform_api.auth_check",
    "platform_api.docs",
    "platform_api.problems",
    "media_api.videos",
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
        if url == "/studio/" and client_fixture == "viewer_client":
            # a viewer is sent to the one step that opens the studio, not to a dead end
            assert (response.status_code, response.headers["Location"]) == (303, "/studio/start")
            continue
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


def test_viewer_starts_a_channel_by_accepting_the_content_policy(app, viewer_client):
    page = viewer_client.get("/studio/start").get_data(as_text=True)
    assert "Content policy" in page and "Upload only what you made" in page
    response = post_form(viewer_client, "/studio/start", {}, page="/studio/start")
    assert response.status_code == 400
    assert "Accept the content policy to start your channel." in response.get_data(as_text=True)
    assert viewer_client.get("/studio/").status_code == 303

    response = post_form(viewer_client, "/studio/start", {"accept": "y"}, page="/studio/start")
    assert (response.status_code, response.headers["Location"]) == (303, "/studio/")
    assert viewer_client.get("/studio/").status_code == 200
    assert viewer_client.get("/studio/start").headers["Location"] == "/studio/"
    from wm.extensions import db
    from wm.models.governance import AuditRecord

    with app.app_context():
        record = db.session.query(AuditRecord).filter_by(event_type="channel.started").one()
        assert record.actor_id == viewer_client.user.id and record.payload["role"] == ["viewer", "creator"]


def test_account_menu_offers_a_channel_to_viewers_only(viewer_client, creator_client, client):
    assert "Start your channel" in viewer_client.get("/").get_data(as_text=True)
    assert "Start your channel" not in creator_client.get("/").get_data(as_text=True)
    assert client.get("/studio/start").status_code == 302


def test_empty_feed_tells_each_visitor_how_videos_get_there(client, viewer_client, creator_client):
    assert "start a channel to publish the first video" in client.get("/").get_data(as_text=True)
    assert "Start your channel</a> to publish the first video" in viewer_client.get("/").get_data(as_text=True)
    assert "Upload a video</a> and publish it to see it here" in creator_client.get("/").get_data(as_text=True)
    assert "follow creators" not in client.get("/").get_data(as_text=True)


def test_moderators_cannot_trade_their_role_for_a_channel(app, moderator_client):
    response = post_form(moderator_client, "/studio/start", {"accept": "y"}, page="/studio/start")
    assert response.status_code == 400 and "ask an admin" in response.get_data(as_text=True)
    assert moderator_client.get("/moderation/").status_code == 200


def test_admin_revokes_a_channel_and_it_is_audited(app, admin_client, viewer_client, user_factory):
    creator = user_factory(role="creator")
    assert "Revoke channel" in admin_client.get("/admin/").get_data(as_text=True)
    response = post_form(viewer_client, f"/admin/users/{creator.id}/revoke-channel", {})
    assert response.status_code == 403
    response = post_form(admin_client, f"/admin/users/{creator.id}/revoke-channel", {}, page="/admin/")
    assert response.status_code == 303
    assert "channel.revoked" in admin_client.get("/admin/").get_data(as_text=True)
    from wm.extensions import db
    from wm.models.accounts import User

    with app.app_context():
        assert db.session.get(User, creator.id).role.value == "viewer"
    response = post_form(admin_client, f"/admin/users/{creator.id}/revoke-channel", {}, page="/admin/")
    assert response.status_code == 400 and "has no channel to revoke" in response.get_data(as_text=True)
    # the revoked creator cannot simply open the channel again; an admin's later role change can
    revoked = app.test_client()
    log_in(revoked, creator.handle)
    response = post_form(revoked, "/studio/start", {"accept": "y"}, page="/studio/start")
    assert response.status_code == 400 and "An admin closed your channel" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, creator.id).role.value == "viewer"
    post_form(admin_client, f"/admin/users/{creator.id}/role", {"role": "creator", "tier": "free"}, page="/admin/")
    with app.app_context():
        assert db.session.get(User, creator.id).role.value == "creator"
