"""CSRF rejection, error pages (full and fragment), rate limits."""

from __future__ import annotations

import re

from tests.fixtures.apps import PASSWORD, app_config, csrf_token, post_form
from wm import create_app
from wm.extensions import db
from wm.models.accounts import User


def test_form_post_without_csrf_token_is_a_clear_400_page(app, client):
    response = client.post("/register", data={"handle": "mallory", "email": "m@example.com", "password": PASSWORD})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<html" in html and "The form expired or was not sent from this site" in html
    with app.app_context():
        assert db.session.query(User).count() == 0


def test_htmx_post_without_csrf_header_is_refused(app, htmx_client):
    response = htmx_client.post("/register", data={"handle": "mallory", "email": "m@example.com",
                                                   "password": PASSWORD})
    assert response.status_code == 400
    assert response.get_data(as_text=True).lstrip().startswith("<form")  # the form again, not an error page
    assert "<html" not in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(User).count() == 0


def test_htmx_post_with_csrf_header_is_accepted(htmx_client):
    token = csrf_token(htmx_client, "/register")
    response = htmx_client.post("/register", data={"handle": "trent", "email": "t@example.com",
                                                   "password": PASSWORD}, headers={"X-CSRFToken": token})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/login"


def test_forged_csrf_token_is_refused(client):
    csrf_token(client, "/register")
    response = client.post("/register", data={"handle": "x_user", "email": "x@example.com", "password": PASSWORD,
                                              "csrf_token": "forged"})
    assert response.status_code == 400


def test_404_page_whole_and_as_fragment(client, htmx_client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "<html" in response.get_data(as_text=True) and "Page not found" in response.get_data(as_text=True)
    response = htmx_client.get("/no/such/page")
    assert response.status_code == 404
    assert "<html" not in response.get_data(as_text=True) and "Page not found" in response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#main"
    assert "HX-Request" in response.headers["Vary"]


def test_boosted_navigation_to_a_missing_page_gets_the_whole_page_not_a_fragment(client):
    response = client.get("/v/nosuchvideo", headers={"HX-Request": "true", "HX-Boosted": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "HX-Retarget" not in response.headers and "HX-Reswap" not in response.headers
    assert html.count('<header class="topbar">') == 1 and "No such video." in html
    assert "HX-Boosted" in response.headers["Vary"]


def test_history_restore_of_a_missing_page_gets_the_whole_page(client):
    response = client.get("/no/such/page", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert response.status_code == 404
    assert "<html" in response.get_data(as_text=True) and "HX-Retarget" not in response.headers


def test_refused_boosted_form_shows_the_whole_error_page_and_keeps_the_address(viewer_client, user_factory):
    other = user_factory()
    token = csrf_token(viewer_client)
    response = viewer_client.post(f"/admin/users/{other.id}/role", data={"role": "admin", "tier": "pro"},
                                  headers={"HX-Request": "true", "HX-Boosted": "true", "X-CSRFToken": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert html.count('<header class="topbar">') == 1 and "HX-Retarget" not in response.headers
    assert response.headers["HX-Push-Url"] == "false"


def test_fragment_only_urls_opened_directly_render_the_whole_page(admin_client, creator_client):
    for client, url, marker in ((admin_client, "/admin/queues", "<h2>Accounts</h2>"),
                                (creator_client, "/studio/videos", "<h1>Creator Studio</h1>")):
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert html.count('<header class="topbar">') == 1 and marker in html, url
        fragment = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
        assert "<header" not in fragment and marker not in fragment, url


def test_huge_and_odd_numbers_in_urls_are_4xx_not_500(admin_client):
    for url, status in (("/admin/?page=99999999999999999999", 400), ("/admin/?page=-1", 400),
                        ("/admin/?page=%C2%B2", 400), ("/admin/?page=0", 400), ("/admin/?page=2", 200)):
        response = admin_client.get(url)
        assert response.status_code == status, url
    assert "must be a whole number" in admin_client.get("/admin/?page=99999999999999999999").get_data(as_text=True)
    for user_id in ("99999999999999999999", str(2**63), "%C2%B2", "%D9%A1"):
        response = post_form(admin_client, f"/admin/users/{user_id}/role", {"role": "viewer", "tier": "free"},
                             page="/admin/")
        assert response.status_code == 404, user_id


def test_500_page_hides_the_traceback(mysql_url):
    app = create_app(app_config(mysql_url))

    @app.get("/_test/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/_test/boom")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong" in html and "secret internals" not in html


def test_login_posts_are_rate_limited_with_a_friendly_429(app, client):
    app.config["WM_LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        responses = [post_form(client, "/login", {"login": "x", "password": "y" * 10}, page="/login")
                     for _ in range(5)]
    finally:
        app.config["WM_LOGIN_RATE_LIMIT"] = "10 per minute"
    assert [r.status_code for r in responses] == [400, 400, 400, 429, 429]
    assert "Too many attempts; try again in" in responses[-1].get_data(as_text=True)
    assert "Retry-After" in responses[-1].headers


def test_wrong_method_is_405_page(client):
    response = client.delete("/login")
    assert response.status_code == 405
    assert "Method not allowed" in response.get_data(as_text=True)


def test_every_page_carries_the_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp and "'unsafe-inline'" not in csp
    assert "media-src 'self' blob:" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert "Content-Security-Policy" in client.get("/no/such/page").headers


def test_pages_with_private_data_are_not_stored(viewer_client, admin_client, creator_client):
    for client, url in ((viewer_client, "/"), (viewer_client, "/settings"), (admin_client, "/admin/"),
                        (creator_client, "/studio/"), (admin_client, "/moderation/")):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url


def test_hsts_only_when_the_public_url_is_https(mysql_url):
    app = create_app(app_config(mysql_url, WM_PUBLIC_URL="https://video.example"))
    response = app.test_client().get("/health")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_the_csp_lets_media_come_from_the_s3_endpoint(mysql_url, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    app = create_app(app_config(mysql_url, WM_STORAGE_URL="s3://media/wm?endpoint=http://127.0.0.1:9000&addressing=path"))
    csp = app.test_client().get("/health").headers["Content-Security-Policy"]
    for directive in ("img-src", "media-src", "connect-src"):
        assert re.search(rf"{directive} [^;]*http://127\.0\.0\.1:9000", csp), directive
