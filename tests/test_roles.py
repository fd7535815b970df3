"""Roles: admins change them and revoke channels, viewers open a channel, and what each role is offered.

Who may open which route is the authorization matrix's part (tests/test_authorization.py); these follow the
role changes themselves through.
"""

from __future__ import annotations

from tests.fixtures.apps import post_form
from tests.fixtures.users import log_in


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
