"""The production edge: rendered nginx config in front of a live gunicorn, on loopback ports."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest

from tests.fixtures.apps import REDIS_URL
from tests.fixtures.edge import edge_stack

pytestmark = pytest.mark.edge


def fetch(url: str, headers: dict | None = None, data: bytes | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture
def edge(app, mysql_url, tmp_path):
    """nginx's base URL, in front of a live gunicorn."""
    with edge_stack(mysql_url, REDIS_URL, tmp_path) as stack:
        yield stack.edge


def test_nginx_serves_pages_through_gunicorn(edge):
    status, headers, body = fetch(edge + "/", {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    status, headers, body = fetch(edge + "/register")
    assert status == 200 and b"Create your account" in body
    assert fetch(edge + "/health")[0] == 200


def test_nginx_serves_static_files_with_long_cache_headers(edge):
    _, _, page = fetch(edge + "/")
    css_url = re.search(rb'href="(/static/css/wm\.css\?v=[0-9a-f]+)"', page).group(1).decode()
    status, headers, body = fetch(edge + css_url)
    assert status == 200 and b"prefers-color-scheme" in body
    assert "max-age=31536000" in headers["Cache-Control"] and "immutable" in headers["Cache-Control"]
    assert "Server" not in headers or "gunicorn" not in headers["Server"]


def test_burst_on_the_login_page_gets_the_friendly_429(edge):
    statuses, last_body, last_headers = [], b"", {}
    for _ in range(25):
        status, headers, body = fetch(edge + "/login", data=b"login=x&password=y")
        statuses.append(status)
        if status == 429:
            last_body, last_headers = body, headers
    assert statuses[0] == 400  # posts only count (tests/test_edge_auth.py); this one lacks a CSRF token
    assert 429 in statuses
    assert b"Too many requests" in last_body and last_headers.get("Retry-After") == "60"
