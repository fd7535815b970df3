"""The production edge: rendered nginx config in front of a live gunicorn, on loopback ports.

One stack serves the whole module (starting gunicorn and nginx is the slow part); each test still gets
empty tables and Redis through the ``app`` fixture. Tests log in against gunicorn directly, so that only
the test about it spends nginx's per-address login budget, and that test runs last.
"""

from __future__ import annotations

import http.client
import json
import re
import select
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.fixtures.apps import REDIS_URL
from tests.fixtures.edge import Stack, edge_stack, nginx_in_front
from tests.fixtures.live import free_port
from tests.fixtures.media import WebSession
from tests.fixtures.users import bearer, make_user, token_for

pytestmark = pytest.mark.edge

ANNOUNCED = 200 * 1024**2  # what an attacker announces; nginx takes up to 256 MiB per PATCH
FORM_SIZED = {"Content-Length": str(16 * 1024**2), "Content-Type": "application/x-www-form-urlencoded"}
SECURITY_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy")


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


# Between probes of a state nginx changes asynchronously: 10/s stays inside every rate zone.
POLL = 0.1


def raw_request(base: str, head: bytes, seconds: float = 5) -> tuple[int, list[tuple[str, str]], bytes]:
    """Send ``head`` exactly as given (what client libraries refuse to send); read the answer."""
    parts = urlsplit(base)
    data = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=seconds) as sock:
        sock.sendall(head)
        # Up to the announced length: after an early refusal nginx may linger before it closes.
        while (b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < announced_length(data)) and (
                chunk := sock.recv(65536)):
            data += chunk
    head_part, _, body = data.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    headers = [(name.strip(), value.strip()) for name, _, value in (line.partition(":") for line in lines[1:])]
    return int(lines[0].split()[1]), headers, body


def announced_length(data: bytes) -> int:
    """The Content-Length of a raw answer's head (without one, read until nginx closes)."""
    found = re.search(rb"\r\ncontent-length: *(\d+)", data.partition(b"\r\n\r\n")[0], re.IGNORECASE)
    return int(found.group(1)) if found else 1 << 62


def header(headers: list[tuple[str, str]], name: str) -> list[str]:
    """Every value of ``name`` in a raw answer's headers."""
    return [value for key, value in headers if key.lower() == name.lower()]


def hold_requests(url: str, count: int, method: str, headers: dict) -> list[http.client.HTTPConnection]:
    """``count`` requests that announce a body and send none of it: nginx keeps each open, waiting.

    Requests a test before left open may still count against the address for a moment, and nginx
    refuses some of these at once: those are replaced until ``count`` are held.
    """
    parts = urlsplit(url)
    held: list[http.client.HTTPConnection] = []
    deadline = time.monotonic() + 10
    while len(held) < count and time.monotonic() < deadline:
        for _ in range(count - len(held)):
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            connection.putrequest(method, parts.path)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            held.append(connection)
        time.sleep(POLL)
        answered = {connection for connection in held if select.select([connection.sock], [], [], 0)[0]}
        for connection in answered:
            connection.close()
        held = [connection for connection in held if connection not in answered]
    return held


def status_within(probe, wanted: int, seconds: float = 10) -> int:
    """Call ``probe`` until it answers ``wanted`` (nginx counts and releases connections asynchronously)."""
    deadline = time.monotonic() + seconds
    status = probe()
    while status != wanted and time.monotonic() < deadline:
        time.sleep(POLL)  # a tight loop would spend the address's request-rate burst, and 429 the next test
        status = probe()
    return status


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


def assert_problem(status: int, headers: dict, body: bytes, expected: int, slug: str, name: str = "") -> dict:
    """An answer is an RFC 9457 problem of the app's type ``slug``."""
    assert status == expected, (name, body)
    assert headers["Content-Type"] == "application/problem+json", name
    assert {key.lower(): value for key, value in headers.items()}.get("x-api-version") == "1", name
    problem = json.loads(body)
    assert problem["type"] == f"/api/v1/problems#{slug}" and problem["status"] == expected, (name, problem)
    assert problem["title"] and problem["detail"], name
    return problem


def test_upload_bodies_without_a_creator_and_csrf_token_are_refused_before_nginx_stores_them(app, edge, stack):
    viewer = WebSession(stack.web, make_user(app, role="viewer").handle)
    creator = WebSession(stack.web, make_user(app, role="creator").handle)
    reading = token_for(app, make_user(app, role="creator"), ("read", "manage"))
    viewers = token_for(app, make_user(app, role="viewer"))  # read: a viewer's token can hold nothing else
    upload_url = edge + "/api/v1/uploads/" + "0" * 32
    refusals = [
        ("anonymous POST", edge + "/api/v1/uploads/", "POST", {"Upload-Length": str(ANNOUNCED)}, 401, "unauthorized"),
        ("anonymous PATCH", upload_url, "PATCH", {"Upload-Offset": "0"}, 401, "unauthorized"),
        ("viewer POST", edge + "/api/v1/uploads/", "POST", {**viewer.headers, "Upload-Length": "9"}, 403,
         "forbidden"),
        ("creator without token", upload_url, "PATCH",
         {"Cookie": creator.headers["Cookie"], "Upload-Offset": "0"}, 403, "csrf"),
        ("creator, forged token", upload_url, "PATCH",
         {**creator.headers, "X-CSRFToken": "forged", "Upload-Offset": "0"}, 403, "csrf"),
        ("unknown access token", upload_url, "PATCH", {**bearer("wmpat_forged"), "Upload-Offset": "0"}, 401,
         "invalid-token"),
        ("token without the upload scope", upload_url, "PATCH", {**bearer(reading), "Upload-Offset": "0"}, 403,
         "insufficient-scope"),
        ("viewer's token", edge + "/api/v1/uploads/", "POST", {**bearer(viewers), "Upload-Length": "9"}, 403,
         "insufficient-scope"),
    ]
    for name, url, method, headers, expected, slug in refusals:
        status, response_headers, body = send_headers_only(url, method, headers)
        assert_problem(status, response_headers, body, expected, slug, name)
        assert response_headers["Tus-Resumable"] == "1.0.0", name
        if "Authorization" in headers:  # RFC 6750: what is wrong with the token
            assert response_headers["WWW-Authenticate"].startswith('Bearer realm="weekmotion", error='), name
    assert list(incoming(stack).iterdir()) == []
    assert send_headers_only(edge + "/api/v1/uploads/", "OPTIONS", {})[0] == 401  # a body, even on OPTIONS
    assert send_headers_only(edge + "/api/v1/uploads/", "OPTIONS", {"Content-Length": "0"})[0] == 204


@pytest.mark.parametrize("credential", ["session", "access token"])
def test_a_creators_upload_still_goes_through_nginx(app, edge, stack, credential):
    creator = make_user(app, role="creator")
    if credential == "session":
        session = WebSession(stack.web, creator.handle)
        http, headers = session.http, session.headers
    else:  # no cookie and no CSRF token: the token is all
        http, headers = requests.Session(), {**bearer(token_for(app, creator, ("upload",))), "Tus-Resumable": "1.0.0"}
    body = b"\x00\x01" * 150_000
    created = http.post(f"{edge}/api/v1/uploads/", headers={**headers, "Upload-Length": str(len(body))})
    assert created.status_code == 201, created.text
    response = http.patch(edge + created.headers["Location"], data=body, headers={
        **headers, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert response.status_code == 204, response.text
    assert response.headers["Upload-Offset"] == str(len(body))
    assert response.headers["X-Video-Id"] == created.headers["X-Video-Id"]
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
            time.sleep(POLL)
            status, headers, body = send_headers_only(parts._replace(path="/api/v1/uploads/").geturl(), "OPTIONS",
                                                      {"Content-Length": "0"})
        assert_problem(status, headers, body, 429, "rate-limited")
        assert headers["Retry-After"] == "60" and headers["Tus-Resumable"] == "1.0.0"
        log = (stack.var.parent / "nginx" / "logs" / "error.log").read_text()
        assert 'limiting connections by zone "wm_upload_conn"' in log  # the cap, not the request rate
    finally:
        for connection in held:
            connection.close()
    deadline = time.monotonic() + 10
    while status != 204 and time.monotonic() < deadline:
        time.sleep(POLL)
        status = send_headers_only(edge + "/api/v1/uploads/", "OPTIONS", {"Content-Length": "0"})[0]
    assert status == 204


def test_anonymous_bodies_past_a_form_size_are_refused_before_nginx_stores_them(edge, stack):
    for path in ("/v/x", "/", "/login"):
        status, headers, body = send_headers_only(edge + path, "POST", FORM_SIZED)
        assert status == 413, path
        assert headers["Content-Type"].startswith("text/html") and b"Too large" in body, path
    status, headers, body = send_headers_only(edge + "/api/v1/videos", "POST", FORM_SIZED)
    assert_problem(status, headers, body, 413, "too-large")
    assert "Tus-Resumable" not in headers  # only tus answers say it
    bodies = stack.var.parent / "nginx" / "tmp" / "body"
    assert not bodies.exists() or list(bodies.iterdir()) == []


def test_one_address_holds_at_most_32_requests_open(edge, stack):
    held = hold_requests(edge + "/", 32, "POST", {"Content-Length": "100"})
    try:
        assert status_within(lambda: fetch(edge + "/health")[0], 429) == 429
        log = (stack.var.parent / "nginx" / "logs" / "error.log").read_text()
        assert 'limiting connections by zone "wm_conn"' in log
        status, headers, body = fetch(edge + "/api/v1/auth/check")
        assert_problem(status, headers, body, 429, "rate-limited")
        assert headers["Retry-After"] == "60"
        status, headers, body = fetch(edge + "/")
        assert status == 429 and headers["Content-Type"].startswith("text/html") and b"Too many requests" in body
    finally:
        for connection in held:
            connection.close()
    assert status_within(lambda: fetch(edge + "/health")[0], 200) == 200


def test_the_studio_form_upload_takes_its_16_mib_from_creators_only(app, edge, stack):
    small = {"file": ("a.mp4", b"\0" * 100)}
    anonymous = requests.post(edge + "/studio/upload", files=small, allow_redirects=False, timeout=10)
    assert anonymous.status_code == 303 and anonymous.headers["Location"] == "/login?next=/studio/"
    viewer = WebSession(stack.web, make_user(app, role="viewer").handle)
    refused = requests.post(edge + "/studio/upload", files=small, data={"csrf_token": viewer.token},
                            headers={"Cookie": viewer.headers["Cookie"]}, allow_redirects=False, timeout=10)
    assert refused.status_code == 403 and "Only creators upload videos" in refused.text
    creator = WebSession(stack.web, make_user(app, role="creator").handle)
    taken = requests.post(edge + "/studio/upload", files=small, data={"csrf_token": creator.token},
                          headers={"Cookie": creator.headers["Cookie"]}, allow_redirects=False, timeout=10)
    assert taken.status_code == 303 and taken.headers["Location"].endswith("/details"), taken.text
    big = {"file": ("huge.mp4", b"\0" * (app.config["MAX_CONTENT_LENGTH"] + 1))}
    response = requests.post(edge + "/studio/upload", files=big, data={"csrf_token": creator.token},
                             headers={"Cookie": creator.headers["Cookie"]}, allow_redirects=False, timeout=30)
    assert response.status_code == 413 and "Without JavaScript files can be up to 16 MB" in response.text
    status, _, body = send_headers_only(edge + "/studio/upload", "POST", {
        "Cookie": creator.headers["Cookie"], "Content-Length": str(18 * 1024**2),
        "Content-Type": "multipart/form-data; boundary=x"})
    assert status == 413 and b"Too large" in body


@pytest.mark.parametrize("junk", [b"X-A: a\x01b\r\n", b"X-A: a\x7fb\r\n", b"Cookie: a\x01b\r\n",
                                  b"".join(b"X-%d: 1\r\n" % i for i in range(101))],
                         ids=["control character", "DEL", "in the cookie", "101 headers"])
def test_headers_gunicorn_refuses_get_a_400_problem_on_every_api_path(edge, junk):
    for request_line in (b"OPTIONS /api/v1/uploads/", b"PATCH /api/v1/uploads/" + b"0" * 32, b"GET /api/v1/me",
                         b"GET /api/v1/openapi.json", b"DELETE /api/v1/no-such-thing"):
        status, headers, body = raw_request(
            edge, request_line + b" HTTP/1.1\r\nHost: edge\r\nContent-Length: 0\r\nConnection: close\r\n" + junk
            + b"\r\n")
        # gunicorn words too many header fields as 431 (which nginx's gate for tus answers as a 400).
        expected = 431 if junk.count(b"\r\n") > 1 and not request_line.startswith((b"OPTIONS", b"PATCH")) else 400
        assert_problem(status, dict(headers), body, expected, "bad-request", request_line)
    # The studio's form keeps HTML through its gate (nginx's page); gunicorn itself cannot tell a page from the
    # API when it refuses a request, and words every refusal as a problem (no browser sends these).
    status, headers, body = raw_request(
        edge, b"POST /studio/upload HTTP/1.1\r\nHost: edge\r\nContent-Length: 0\r\nConnection: close\r\n" + junk
        + b"\r\n")
    assert status == 400 and header(headers, "Content-Type") == ["text/html"] and b"Bad request" in body
    status, headers, body = raw_request(edge, b"GET / HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n" + junk
                                        + b"\r\n")
    assert status in (400, 431) and header(headers, "Content-Type") == ["application/problem+json"]
    assert b"<" not in body


@pytest.mark.parametrize("junk", [b"Host: second\r\n", b"X-Big: " + b"a" * 9000 + b"\r\n"],
                         ids=["a second Host", "a header past nginx's buffers"])
def test_requests_nginx_cannot_read_get_a_400_problem_on_api_paths_and_the_page_elsewhere(edge, junk):
    head = b" HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n" + junk + b"\r\n"
    status, headers, body = raw_request(edge, b"GET /api/v1/me" + head)
    assert_problem(status, dict(headers), body, 400, "bad-request")
    status, headers, body = raw_request(edge, b"GET /" + head)
    assert status == 400 and header(headers, "Content-Type") == ["text/html"] and b"Bad request" in body


def test_with_gunicorn_down_api_calls_get_a_503_problem_and_pages_the_maintenance_page(stack, tmp_path):
    with nginx_in_front(stack.env, f"127.0.0.1:{free_port()}", tmp_path / "nginx") as down:
        status, headers, body = send_headers_only(down + "/api/v1/uploads/", "OPTIONS", {"Content-Length": "0"})
        assert_problem(status, headers, body, 503, "unavailable")
        assert headers["Tus-Resumable"] == "1.0.0"
        status, headers, body = fetch(down + "/api/v1/me")
        assert_problem(status, headers, body, 503, "unavailable")
        status, headers, body = fetch(down + "/")
        assert status == 503 and b"503" in body and headers["Content-Type"].startswith("text/html")
        status, headers, body = send_headers_only(down + "/studio/upload", "POST", {"Content-Length": "0"})
        assert status == 503 and b"503" in body and headers["Content-Type"].startswith("text/html")


def test_nginx_redirects_never_name_the_host_the_client_sent(edge):
    for path in (b"/api/v1/uploads", b"/studio/"):
        status, headers, _ = raw_request(
            edge, b"GET %s HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n" % path)
        assert status in (301, 302, 303) and header(headers, "Location")[0].startswith("/"), path
    status, headers, _ = raw_request(
        edge, b"GET /api/v1/uploads HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
    assert header(headers, "Location") == ["/api/v1/uploads/"]


def test_answers_nginx_makes_itself_carry_the_security_headers_once(edge):
    _, _, page = fetch(edge + "/")
    css_path = re.search(rb'href="(/static/css/wm\.css\?v=[0-9a-f]+)"', page).group(1)
    close = b"Host: edge\r\nConnection: close\r\n"
    answers = {
        "app page": (200, b"GET / HTTP/1.1\r\n" + close),
        "tus discovery": (204, b"OPTIONS /api/v1/uploads/ HTTP/1.1\r\nContent-Length: 0\r\n" + close),
        "static file": (200, b"GET %s HTTP/1.1\r\n%s" % (css_path, close)),
        "unsigned media": (403, b"GET /m/published/x/master.m3u8 HTTP/1.1\r\n" + close),
        "413 page": (413, b"POST / HTTP/1.1\r\nContent-Length: 16777216\r\n" + close),
        "upload gate 401": (401, b"OPTIONS /api/v1/uploads/ HTTP/1.1\r\nContent-Length: 5\r\n" + close),
        "gate's 400": (400, b"OPTIONS /api/v1/uploads/ HTTP/1.1\r\nX-A: a\x01b\r\n" + close),
        "api's 400": (400, b"GET /api/v1/me HTTP/1.1\r\nX-A: a\x01b\r\n" + close),
        "api's 413": (413, b"POST /api/v1/me HTTP/1.1\r\nContent-Length: 16777216\r\n" + close),
        "nginx's 400": (400, b"GET / HTTP/1.1\r\nHost: a\r\n" + close),
        "nginx's redirect": (301, b"GET /api/v1/uploads HTTP/1.1\r\n" + close),
    }
    for name, (expected, head) in answers.items():
        status, headers, _ = raw_request(edge, head + b"\r\n")
        assert status == expected, name
        for security_header in SECURITY_HEADERS:
            assert len(header(headers, security_header)) == 1, (name, security_header)
        assert header(headers, "X-Frame-Options") == ["DENY"], name
    _, headers, _ = raw_request(edge, answers["static file"][1] + b"\r\n")
    assert "default-src 'none'" in header(headers, "Content-Security-Policy")[0]


def test_a_burst_on_the_api_gets_a_429_problem_with_retry_after(edge):
    """nginx's own request rate on the API (20/s, a burst of 40); it recovers before the next test."""
    answers = [fetch(edge + "/api/v1/auth/check") for _ in range(60)]
    assert answers[0][0] == 200
    status, headers, body = next(answer for answer in answers if answer[0] == 429)
    assert_problem(status, headers, body, 429, "rate-limited")
    assert headers["Retry-After"] == "60" and headers["Cache-Control"] == "no-store"
    assert status_within(lambda: fetch(edge + "/api/v1/auth/check")[0], 200) == 200


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
    # an htmx form that trips it keeps its page: only the message goes to the flash area
    assert (last_headers.get("HX-Retarget"), last_headers.get("HX-Reselect")) == ("#flash", ".message")
    assert b'class="flash flash-error message"' in last_body
