"""Schemathesis over the whole OpenAPI document, against a live gunicorn on MariaDB.

Every operation of ``/api/v1/openapi.json`` gets generated requests, valid and invalid, first as a creator's web
session (its cookie and X-CSRFToken header), then as the same creator's access token with every scope.
Schemathesis checks each answer: no 5xx, only status codes, content types and headers the document lists,
bodies that match their schemas, invalid input refused and valid input taken. After every call, every video
row must still keep the model's rules: a request that stored something invalid fails the run, shrunk to the
smallest such request.

The operations are read from the document the code generates, when the module is collected (a test per
operation and caller); the live gunicorn must serve the very same document.

Path parameters that name an object (a video, a channel, an upload) get a real one in about half the
examples, so the code behind the lookup is fuzzed too; the rest stay generated, which must answer 404.
A DELETE with a real object gets a new object for its example, so it never deletes what the other
operations' examples use.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from openapi_spec_validator import OpenAPIV31SpecValidator
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.fixtures.apps import REDIS_URL, app_config, reset_state
from tests.fixtures.edge import gunicorn_server, stack_env
from tests.fixtures.media import WebSession
from tests.fixtures.users import make_user
from tests.fixtures.workers import start_worker
from wm import create_app
from wm.extensions import db
from wm.models.accounts import Scope, User
from wm.models.media import Video, VideoState, Visibility
from wm.services import DomainError
from wm.services.accounts import tokens
from wm.services.media import new_public_id
from wm.services.media import upload as upload_service
from wm.validation import check_text

# A tus PATCH body is plain bytes, like application/octet-stream.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")

TUS_BODIES = ("/api/v1/uploads/", "/api/v1/uploads/{upload_id}")

# Examples per operation and caller: the run grows with every operation, and the whole module stays under 60 s.
EXAMPLES_PER_OPERATION = 25
DESCRIPTION_MAX = 5000  # what wm.services.media.update_details takes
PUBLIC_ID = re.compile(r"[0-9A-Za-z_-]{11}")


@dataclass
class Live:
    """gunicorn's base URL, the creator the calls come from, and each kind of caller's credentials."""

    base: str
    app: Flask
    creator: User
    credentials: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    def video(self) -> str:
        with self.app.app_context():
            public_id = new_public_id()
            db.session.add(Video(public_id=public_id, owner_id=self.creator.id, title="Fuzzed video",
                                 state=VideoState.ready, visibility=Visibility.published))
            db.session.commit()
            return public_id

    def upload(self) -> str:
        with self.app.app_context():
            return upload_service.create(db.session.get(User, self.creator.id), 4, {"filename": "fuzz.mp4"}).id

    def real_objects(self) -> dict[str, Callable[[bool], str]]:
        """A maker for each path parameter that names an object, by the name the routes give it."""
        video, upload = self.video(), self.upload()
        return {"public_id": lambda fresh: self.video() if fresh else video,
                "upload_id": lambda fresh: self.upload() if fresh else upload,
                "handle": lambda fresh: self.creator.handle}


@pytest.fixture(scope="module")
def live(_mysql_app, mysql_url, tmp_path_factory) -> Iterator[Live]:
    """gunicorn on the test database, a creator logged in there, and the creator's token with every scope."""
    reset_state(_mysql_app)
    # One address sends every request here: the per-address limits would otherwise cut the run short.
    env = stack_env(mysql_url, REDIS_URL, tmp_path_factory.mktemp("schemathesis"),
                    dict.fromkeys(("WM_LOGIN_RATE_LIMIT", "WM_API_RATE_LIMIT", "WM_API_TOKEN_RATE_LIMIT"),
                                  "100000 per minute"))
    # An encode worker, so that /api/v1/upload/status reports up (it answers 503 without one).
    encode_worker = start_worker(env, "encode")
    with gunicorn_server(env) as base:
        assert requests.get(f"{base}/api/v1/openapi.json", timeout=10).json() == DOCUMENT, \
            "gunicorn serves another document than the one the tests were collected from"
        deadline = time.monotonic() + 30
        while requests.get(f"{base}/api/v1/upload/status", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the encode worker never registered"
            time.sleep(0.2)
        creator = make_user(_mysql_app, role="creator")
        live = Live(base, _mysql_app, creator)
        web = WebSession(base, creator.handle)
        live.credentials["session"] = {"cookies": {"session": web.http.cookies["session"]},
                                       "headers": {"X-CSRFToken": web.token}}
        with _mysql_app.app_context():
            secret = tokens.create_token(db.session.get(User, creator.id), "schemathesis", list(Scope), 7)[1]
        live.credentials["token"] = {"cookies": {}, "headers": {"Authorization": f"Bearer {secret}"}}
        yield live
    os.killpg(encode_worker.pid, signal.SIGTERM)
    encode_worker.wait(30)
    reset_state(_mysql_app)


# The credentials of the caller whose run is under way, for CallerAuth (which pytest's fixtures cannot reach).
CURRENT_CALLER: dict[str, dict[str, str]] = {}


@pytest.fixture(scope="module", params=["session", "token"])
def caller(request, live: Live) -> Iterator[str]:
    CURRENT_CALLER.update(live.credentials[request.param])
    yield request.param
    CURRENT_CALLER.clear()


@pytest.fixture(scope="module")
def real_objects(live: Live) -> dict[str, Callable[[bool], str]]:
    return live.real_objects()


def rule_breaks(video: Video) -> list[str]:
    """Which of the model's rules ``video`` breaks (the service refuses all of these on the way in)."""
    breaks = []
    if not 1 <= len(video.title) <= Video.__table__.c.title.type.length:
        breaks.append(f"a title of {len(video.title)} characters")
    if len(video.description or "") > DESCRIPTION_MAX:
        breaks.append(f"a description of {len(video.description)} characters")
    if not PUBLIC_ID.fullmatch(video.public_id):
        breaks.append(f"the public id {video.public_id!r}")
    for text, multiline in ((video.title, False), (video.description or "", True)):
        try:
            check_text(text, "text", multiline=multiline)
        except DomainError as exc:
            breaks.append(exc.message)
    return breaks


def invalid_videos(live: Live) -> dict[str, list[str]]:
    """Every stored video that breaks a rule (reading a row also checks its enum columns hold known values)."""
    with live.app.app_context():
        found = {video.public_id: rule_breaks(video) for video in db.session.scalars(db.select(Video))}
        db.session.remove()
    return {public_id: breaks for public_id, breaks in found.items() if breaks}


def generated_document() -> dict:
    """The OpenAPI document as the code generates it (no database or server needed for that)."""
    return create_app(app_config("sqlite://")).test_client().get("/api/v1/openapi.json").get_json()


DOCUMENT = generated_document()
# schemathesis' own list, 412 (tus: a version the server does not speak) and 414 (gunicorn refuses a request
# line past 4 KiB before the app sees it).
CONFIG = schemathesis.config.SchemathesisConfig.from_str("""
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "412", "414", "415", "422", "428", "429",
                     "5xx"]
""")
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


@schema.auth.auth(refresh_interval=None)
class CallerAuth:
    """The caller's credentials, put where the document declares them (the ``session`` cookie, the bearer header):
    so schemathesis knows them, and also checks that each operation that needs them refuses the same request
    without them and with broken ones."""

    def get(self, case, context) -> dict[str, dict[str, str]]:
        return CURRENT_CALLER

    def set(self, case, credentials, context) -> None:
        case.cookies = {**(case.cookies or {}), **credentials["cookies"]}
        case.headers = {**(case.headers or {}), **credentials["headers"]}


@pytest.mark.edge
@schema.parametrize()
@schema.given(use_real_objects=st.booleans())
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_every_operation_answers_as_documented_and_stores_nothing_invalid(case, use_real_objects, live, caller,
                                                                        real_objects):
    if use_real_objects:
        for name in set(case.path_parameters or {}) & set(real_objects):
            # A DELETE would take the shared object away from the examples after it: it gets its own.
            case.path_parameters[name] = real_objects[name](case.method.upper() == "DELETE")
    # A tus body must fit the upload's length (Upload-Length, or the length the upload was created with), a
    # rule between a header and the body that OpenAPI cannot state: a generated body that breaks it is refused
    # with 413 however "valid" its schema says it is. Every other check still runs on these operations.
    bound_by_length = case.path in TUS_BODIES and case.method.upper() in ("POST", "PATCH")
    # Likewise a cursor is any string to the schema, but only the ones the server signed lead anywhere: others
    # are refused (422) as they must be.
    opaque_cursor = "cursor" in (case.query or {})
    case.call_and_validate(base_url=live.base,
                           excluded_checks=[positive_data_acceptance] if bound_by_length or opaque_cursor else None)
    assert not invalid_videos(live), f"{case.method} {case.formatted_path} stored an invalid video"


def test_the_openapi_document_is_valid_openapi_3_1():
    assert DOCUMENT["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(DOCUMENT).validate()
