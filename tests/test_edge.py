"""The production edge: rendered nginx config in front of a live gunicorn, on loopback ports.

One stack serves the whole module (starting gunicorn and nginx is the slow part); each test still gets
empty tables and Redis through the ``app`` fixture. Tests log in against gunicorn directly, so that only
the test about it spends nginx's per-address login budget, and that test runs last.
"""

from __future__ import annotations

import http.client
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.fixtures.apps import REDIS_URL
from tests.fixtures.edge import Stack, edge_stack
from tests.fixtures.media import WebSession
from tests.fixtures.users import make_user

pytestmark = pytest.mark.edge

ANNOUNCED = 200 * 1024**2  # what an attacker announces; nginx takes up to 256 MiB per PATCH


def fetch(url: str, headers: dict | None = None, data: bytes | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture(scope="module")
def stack(_mysql_app, mysql_url, tmp_path_factory) -> Stack:
    """gunicorn with nginx in front, for every test of this module."""
    with edge_stack(mysql_url, REDIS_URL, tmp_path_factory.mktemp("edge")) as running:
        yield running


@pytest.fixture
def edge(app, stack) -> str:
    """nginx's base URL, in front of a live gunicorn, with empty tables and Redis."""
    return stack.edge


def incoming(stack: Stack) -> Path:
    """Where this stack's nginx writes upload bodies (nginx makes the folder when it first needs it)."""
    folder = stack.var / "uploads" / ".incoming"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def send_headers_only(url: str, method: str, headers: dict, seconds: float = 5) -> tuple[int, dict, bytes]:
    """Announce a big body but send none of it; nginx must answer from the headers alone."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=seconds)
    try:
        connection.putrequest(method, parts.path)
        for name, value in {"Content-Length": str(ANNOUNCED), "Tus-Resumable": "1.0.0",
                            "Content-Type": "application/offset+octet-stream", **headers}.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()  # a TimeoutError here: nginx waited for the body
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


def test_nginx_serves_pages_through_gunicorn(edge):
    status, headers, body = fetch(edge + "/", {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    status, headers, body = fetch(edge + "/register")
    assert status == 200 and b"Create your account" in body
    assert fetch(edge + "/health")[0] == 200


def test_nginx_passes_the_apps_security_headers(edge):
    _, headers, _ = fetch(edge + "/")
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"


def test_nginx_serves_static_files_with_long_cache_headers(edge):
    _, _, page = fetch(edge + "/")
    css_url = re.search(rb'href="(/static/css/wm\.css\?v=[0-9a-f]+)"', page).group(1).decode()
    status, headers, body = fetch(edge + css_url)
    assert status == 200 and b"prefers-color-scheme" in body
    assert "max-age=31536000" in headers["Cache-Control"] and "immutable" in headers["Cache-Control"]
    assert "Server" not in headers or "gunicorn" not in headers["Server"]


def test_upload_bodies_without_a_creator_and_csrf_token_are_refused_before_nginx_stores_them(app, edge, stack):
    viewer = WebSession(stack.web, make_user(app, role="viewer").handle)
    creator = WebSession(stack.web, make_user(app, role="creator").handle)
    upload_url = edge + "/api/v1/uploads/" + "0" * 32
    refusals = [
        ("anonymous POST", edge + "/api/v1/uploads/", "POST", {"Upload-Length": str(ANNOUNCED)}, 401),
        ("anonymous PATCH", upload_url, "PATCH", {"Upload-Offset": "0"}, 401),
        ("viewer POST", edge + "/api/v1/uploads/", "POST", {**viewer.headers, "Upload-Length": "9"}, 403),
        ("creator without token", upload_url, "PATCH",
         {"Cookie": creator.headers["Cookie"], "Upload-Offset": "0"}, 403),
        ("creator, forged token", upload_url, "PATCH",
         {**creator.headers, "X-CSRFToken": "forged", "Upload-Offset": "0"}, 403),
    ]
    for name, url, method, headers, expected in refusals:
        status, response_headers, body = send_headers_only(url, method, headers)
        assert status == expected, name
        assert response_headers["Content-Type"] == "application/problem+json", name
        assert b'"status":%d' % expected in body and b'"detail":"' in body, name
    assert list(incoming(stack).iterdir()) == []
    assert send_headers_only(edge + "/api/v1/uploads/", "OPTIONS", {})[0] == 401  # a body, even on OPTIONS
    assert send_headers_only(edge + "/api/v1/uploads/", "OPTIONS", {"Content-Length": "0"})[0] == 204


def test_a_creators_upload_still_goes_through_nginx(app, edge, stack):
    creator = WebSession(stack.web, make_user(app, role="creator").handle)
    creator.base = edge
    body = b"\x00\x01" * 150_000
    created = creator.http.post(f"{edge}/api/v1/uploads/", headers={**creator.headers, "Upload-Length": str(len(body))})
    assert created.status_code == 201, created.text
    response = creator.http.patch(edge + created.headers["Location"], data=body, headers={
        **creator.headers, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert response.status_code == 204, response.text
    assert response.headers["Upload-Offset"] == str(len(body))
    assert list(incoming(stack).iterdir()) == []


def test_concurrent_upload_requests_per_address_are_capped(app, edge, stack):
    creator = WebSession(stack.web, make_user(app, role="creator").handle)
    created = creator.http.post(f"{edge}/api/v1/uploads/", headers={**creator.headers, "Upload-Length": "1000"})
    parts = urlsplit(edge + created.headers["Location"])
    held = []
    try:
        for _ in range(8):  # each announces a body and sends none: nginx holds the request open, waiting
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            connection.putrequest("PATCH", parts.path)
            for name, value in {**creator.headers, "Upload-Offset": "0", "Content-Length": "1000",
                                "Content-Type": "application/offset+octet-stream"}.items():
                connection.putheader(name, value)
            connection.endheaders()
            held.append(connection)
        deadline = time.monotonic() + 10
        status = None
        while status != 429 and time.monotonic() < deadline:  # until nginx has counted all eight
            status = send_headers_only(parts._replace(path="/api/v1/uploads/").geturl(), "OPTIONS",
                                       {"Content-Length": "0"})[0]
        assert status == 429
        log = (stack.var.parent / "nginx" / "logs" / "error.log").read_text()
        assert 'limiting connections by zone "wm_upload_conn"' in log  # the cap, not the request rate
    finally:
        for connection in held:
            connection.close()
    deadline = time.monotonic() + 10
    while status != 204 and time.monotonic() < deadline:
        status = send_headers_only(edge + "/api/v1/uploads/", "OPTIONS", {"Content-Length": "0"})[0]
    assert status == 204


def test_burst_on_the_login_page_gets_the_friendly_429(edge):
    """Last in the module: it spends the address's login budget in the shared nginx."""
    statuses, last_body, last_headers = [], b"", {}
    for _ in range(25):
        status, headers, body = fetch(edge + "/login", data=b"login=x&password=y")
        statuses.append(status)
        if status == 429:
            last_body, last_headers = body, headers
    assert statuses[0] == 400  # posts only count (tests/test_edge_auth.py); this one lacks a CSRF token
    assert 429 in statuses
    assert b"Too many requests" in last_body and last_headers.get("Retry-After") == "60"
