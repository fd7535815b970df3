"""Hostile input on every route, for every kind of visitor: a clear 4xx at worst, never a 5xx.

Routes are discovered from ``app.url_map``, so a new route is fuzzed without touching this file. Each
role gets a fixed sweep (every route and method with each kind of hostile value) and then a derandomized
hypothesis run that mixes the values in path parameters, query strings, form fields and headers.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.apps import csrf_token
from tests.fixtures.users import log_in, make_user
from wm.extensions import db
from wm.models.accounts import User
from wm.models.media import Video, VideoState, Visibility
from wm.services.media import upload as upload_service

# Each kind the issue names: non-ASCII digits, 2^63 and beyond, negatives, control characters, NUL,
# very long strings, HTML, odd Unicode, and a few shapes parsers trip on. The sweep sends each on every route.
HOSTILE = [
    "²", "١٢٣", str(2**63), "9" * 40, "-1", "\x00", "\x01\x1b[31m\x7f", "x" * 5000, "<script>alert(1)</script>",
    "/\t/evil.example", "\u202e\ufeff😀",
]
# Invalid UTF-8 and over-long percent-escapes, placed raw (unquoted) in paths and query strings.
RAW_ESCAPES = ["%ff", "%C0%AF%00"]
# More for the random exploration.
EXTRA = ["1e309", "%", "½", str(2**64), str(-(2**63) - 1), "0", "1", "-0", "NaN", "0x1f", " 7 ", "a\x00b",
         "\r\nX-Injected: 1", "", "\"'><img src=x onerror=alert(1)>", "../../../../etc/passwd", "//evil.example",
         "' OR 1=1 --", "[]"]

QUERY_NAMES = ["page", "q", "next", "expires", "md5", "end", "v", "id", "limit", "offset"]
FORM_NAMES = ["handle", "email", "password", "login", "remember", "next", "role", "tier", "title", "description",
              "visibility", "access_tier", "accept", "email-email", "email-current_password",
              "password-current_password", "password-new_password", "name", "scopes", "days"]
# Headers the sweep of paths, queries and forms leaves alone: hostile there, they would get every request refused
# up front (tus version, deferred length, body type). The one-header-at-a-time sweep covers them.
GATE_HEADERS = {"Tus-Resumable", "Upload-Defer-Length", "Content-Type"}
HEADER_NAMES = ["Upload-Length", "Upload-Offset", "Upload-Metadata", "Upload-Checksum", "Upload-Defer-Length",
                "Tus-Resumable", "Content-Type", "X-Upload-Body-File", "X-Upload-Body-Key", "HX-Request",
                "HX-Boosted", "HX-History-Restore-Request", "HX-Current-URL", "HX-Target", "Referer", "Accept",
                "Range", "If-Modified-Since", "If-None-Match", "Accept-Language", "X-Forwarded-For"]

ROLES = ["anonymous", "viewer", "creator", "admin"]
# A monitored endpoint's 503 is its answer, not a crash: the test stack runs no encode worker.
UNAVAILABLE_IS_AN_ANSWER = {"platform_api.upload_status"}


def header_value(value: str) -> str:
    """What a WSGI server hands the app for ``value`` on one header line: its Latin-1 bytes, else its UTF-8 bytes."""
    try:
        data = value.encode("latin-1")
    except UnicodeEncodeError:
        data = value.encode("utf-8", "surrogatepass")
    return data.decode("latin-1").replace("\r", "").replace("\n", "")


def path_for(rule, value: str, raw: bool = False) -> str:
    """The rule's path with every parameter set to ``value`` (percent-encoded unless ``raw``)."""
    piece = value if raw else quote(value, safe="")
    return re.sub(r"<[^>]+>", lambda _: piece or "x", rule.rule)


def routes(app: Flask) -> list[tuple[object, str]]:
    """Every (rule, method) pair the app serves."""
    return sorted(((rule, method) for rule in app.url_map.iter_rules() for method in rule.methods),
                  key=lambda pair: (pair[0].rule, pair[1]))


def send(client: FlaskClient, method: str, path: str, query: str = "", form: dict | None = None,
         headers: dict | None = None) -> int | str:
    """The status, or the exception the app let escape (which a real server turns into a 500)."""
    try:
        response = client.open(path, method=method, query_string=query, data=form or None,
                               headers={k: header_value(v) for k, v in (headers or {}).items()})
    except Exception as exc:  # anything escaping the app is a finding, reported with its request
        return f"{type(exc).__name__}: {exc}"
    return response.status_code


def is_5xx(status: int | str, endpoint: str) -> bool:
    if status == 503 and endpoint in UNAVAILABLE_IS_AN_ANSWER:
        return False
    return isinstance(status, str) or status >= 500


@pytest.fixture
def fuzz_client(request, app: Flask) -> tuple[FlaskClient, str, list[str]]:
    """A client of the role (``request.param``), its CSRF token, and real ids that hostile values mix with."""
    role = request.param
    client = app.test_client()
    if role != "anonymous":
        user = make_user(app, role=role)
        log_in(client, user.handle)
    owner = user if role in ("creator", "admin") else make_user(app, role="creator")
    with app.app_context():
        video = Video(public_id="fuzzvideo01", owner_id=owner.id, title="Fuzz target", state=VideoState.processing,
                      visibility=Visibility.published)
        db.session.add(video)
        db.session.commit()
        upload = upload_service.create(db.session.get(User, owner.id), 1000, {"filename": "fuzz.mp4"})
        real = ["fuzzvideo01", str(owner.id), owner.handle, "published/fuzzvideo01/v1/poster.jpg", upload.id]
    return client, csrf_token(client, "/login" if role == "anonymous" else "/"), real


def hostile_request(rule, method: str, value: str, token: str, keep_session: bool,
                    path_value: str | None = None) -> tuple[str, str, dict | None, dict]:
    """``value`` in the path, query, form and headers, with a valid CSRF token and tus version to get past them."""
    raw = value in RAW_ESCAPES
    path = path_for(rule, path_value) if path_value is not None else path_for(rule, value, raw=raw)
    query = "&".join(f"{name}={value if raw else quote(value, safe='')}" for name in QUERY_NAMES)
    form = {name: value for name in FORM_NAMES} if method not in ("GET", "HEAD", "OPTIONS") else None
    headers = {} if raw else {name: value for name in HEADER_NAMES if name not in GATE_HEADERS}
    headers["Tus-Resumable"] = "1.0.0"
    if not keep_session:
        headers["X-CSRFToken"] = token
        if form is not None:
            form["csrf_token"] = token
    return path, query, form, headers


def benign_headers(token: str, keep_session: bool) -> dict:
    return {"Tus-Resumable": "1.0.0"} | ({} if keep_session else {"X-CSRFToken": token})


def benign_form(method: str, token: str, keep_session: bool) -> dict | None:
    if method in ("GET", "HEAD", "OPTIONS"):
        return None
    return {name: "x" for name in FORM_NAMES} | ({} if keep_session else {"csrf_token": token})


def reachable_path(client: FlaskClient, rule, method: str, real: list[str], token: str, keep_session: bool) -> str:
    """The rule's path with the first real id it does not answer 404 to (its own path when it takes none)."""
    for value in real if rule.arguments else []:
        path = path_for(rule, value)
        if send(client, method, path, "", benign_form(method, token, keep_session),
                benign_headers(token, keep_session)) != 404:
            return path
    return path_for(rule, real[0])


def sweep(client: FlaskClient, app: Flask, token: str, real: list[str], role: str) -> list[str]:
    """Every route and method with each hostile value in every slot; the 5xx answers found."""
    found = []

    def check(rule, method: str, path: str, query: str, form: dict | None, headers: dict, what: str) -> None:
        status = send(client, method, path, query, form, headers)
        if is_5xx(status, rule.endpoint):
            found.append(f"{role} {method} {path[:80]!r} {what[:60]!r}: {status}")

    for rule, method in routes(app):
        if method == "OPTIONS" or (method == "HEAD" and "GET" in rule.methods):
            continue  # answered by Flask itself, or the GET view again
        keep_session = role != "anonymous" and rule.endpoint == "accounts.logout"
        tries = [(value, None) for value in HOSTILE + RAW_ESCAPES]
        if rule.arguments:
            # A real id in the path lets hostile query, form and header values reach the code behind the lookup.
            tries += [(value, path_value) for path_value in real for value in HOSTILE[:3]]
        for value, path_value in tries:
            check(rule, method, *hostile_request(rule, method, value, token, keep_session, path_value), what=value)
        if method != "GET":
            # Requests that write: one hostile header at a time on a real object, so no other check answers first.
            path = reachable_path(client, rule, method, real, token, keep_session)
            # "²" passes str.isdigit() and fails int(); the other values reach every header in the sweep above.
            for name in HEADER_NAMES:
                check(rule, method, path, "", benign_form(method, token, keep_session),
                      {**benign_headers(token, keep_session), name: "²"}, what=f"{name}: ²")
    return found


values = st.one_of(st.sampled_from(HOSTILE + EXTRA), st.text(max_size=30),
                   st.integers(min_value=-(2**70), max_value=2**70).map(str))


@pytest.mark.parametrize("fuzz_client", ROLES, indirect=True)
def test_hostile_input_on_every_route_is_never_a_5xx(app, fuzz_client, request):
    client, token, real = fuzz_client
    role = request.node.callspec.params["fuzz_client"]
    found = sweep(client, app, token, real, role)
    assert not found, "\n".join(found[:30])
    pairs = routes(app)

    @settings(max_examples=40, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(pair=st.sampled_from(pairs), path_value=st.one_of(values, st.sampled_from(real)),
           query=st.dictionaries(st.sampled_from(QUERY_NAMES), values, max_size=4),
           form=st.dictionaries(st.sampled_from(FORM_NAMES), values, max_size=6),
           headers=st.dictionaries(st.sampled_from(HEADER_NAMES), values, max_size=5),
           with_token=st.booleans())
    def explore(pair, path_value, query, form, headers, with_token):
        rule, method = pair
        keep_session = role != "anonymous" and rule.endpoint == "accounts.logout"
        if with_token and not keep_session:
            form = {**form, "csrf_token": token}
            headers = {**headers, "X-CSRFToken": token, "Tus-Resumable": "1.0.0"}
        query_string = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in query.items())
        body = form if method not in ("GET", "HEAD", "OPTIONS") else None
        status = send(client, method, path_for(rule, path_value), query_string, body, headers)
        assert not is_5xx(status, rule.endpoint), f"{role} {method} {path_for(rule, path_value)!r}: {status}"

    explore()
    if role != "anonymous":
        assert client.get("/settings").status_code == 200, "the fuzzing logged the client out: roles went untested"
