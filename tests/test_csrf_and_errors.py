"""CSRF rejection, error pages (full and fragment), rate limits."""

from __future__ import annotations

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
