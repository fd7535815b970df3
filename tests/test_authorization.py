"""The authorization matrix: every route of the app, asked by every kind of caller, answers as its row says.

Routes are read from ``app.url_map`` (every method a rule serves; HEAD and OPTIONS only where Flask does not
answer them itself, as on tus), so a route without a row fails ``test_every_route_has_a_row_and_every_row_a_route``,
which prints the row to fill in.

A row is one dict in ``ROWS``:

- ``endpoint`` and ``method`` (GET when left out);
- ``kind``: what each caller gets on that kind of route (``PUBLIC``, ``ACCOUNT_PAGE``, ``CREATOR_PAGE``,
  ``OWNER_PAGE``, ``OWNER_API``, …; see KINDS), where ``"ok"`` stands for the row's ``ok`` (any 2xx unless
  the row says, e.g. ``"ok": SEE_OTHER`` for a form post); a caller's name as a key overrides its cell;
- ``scope``: for a route a bearer token can reach, the scope it declares (``Scope.read`` …; ``None`` for
  ``requires(None)``; left out: tokens are refused there), checked against the view;
- the URL's arguments, each naming a real object of the module's world (``"public_id": "draft"``; see
  ``World.MAKERS``), or ``url`` naming a whole URL the world makes (a signed media URL);
- ``form`` (a dict, or a function of the world for values that must differ each time), ``headers``, ``body``
  (raw bytes, e.g. JSON with ``"Content-Type": "application/json"`` in ``headers``);
  ``csrf``: a safe method that still carries the caller's CSRF header (nginx's gate checks the one of the
  request it holds);
- ``fresh``: the request uses its objects up (delete, publish, revoke), so each request gets new ones;
  ``isolated``: the request changes its caller's session or account (log in, log out, change a password), so
  each request comes from a new caller of the same kind.

Callers: anonymous, a viewer, a pro viewer, the creator who owns the world's videos and upload, another
creator, a moderator, an admin, and three token holders that need no column: the owner's token with the
route's scope (``token``), the owner's token with every scope but that one (``wrong_token``), and a viewer's
read token (``viewer_token``). A page ignores a token (its holder is anonymous there; the holders send an
anonymous session's CSRF token, so only the Authorization header differs); an API route lets a token act for
its owner with the route's scope, and answers a 403 ``insufficient-scope`` problem without it.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from tests.fixtures.apps import PASSWORD, csrf_token, reset_state
from tests.fixtures.users import log_in, make_user
from wm.api import PROBLEM_MIMETYPE
from wm.extensions import db
from wm.forms import is_form_view
from wm.models.accounts import Scope, User
from wm.models.media import AccessTier, Video, VideoState, Visibility
from wm.services.accounts import tokens
from wm.services.media import new_public_id
from wm.services.media import upload as upload_service
from wm.services.media.playback import media_url
from wm.storage import storage

SESSION_CALLERS = ("anonymous", "viewer", "pro", "owner", "other", "moderator", "admin")
SIGNED_IN = SESSION_CALLERS[1:]
TOKEN_CALLERS = ("token", "wrong_token", "viewer_token")
CALLERS = SESSION_CALLERS + TOKEN_CALLERS
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
NO_TOKEN = "no token"  # a row's scope when tokens are refused (the view declares none)
# Where a bearer token is read at all: the API, and nginx's check before it stores a tus body. Stated here, not
# imported, so that the app reading tokens anywhere else fails the matrix.
TOKEN_PATHS = ("/api/v1/", "/_edge/upload-gate")


@dataclass(frozen=True)
class Outcome:
    """What a caller must get: a status (or a class of them), and where a redirect leads or which problem it is."""

    label: str
    statuses: range | tuple[int, ...]
    location: str | None = None  # a redirect's exact Location
    login: bool = False  # a redirect to the login page that comes back to the request's path
    problem: str | None = None  # the problem type's slug

    def matches(self, response: TestResponse, path: str) -> bool:
        if response.status_code not in self.statuses:
            return False
        location = response.headers.get("Location", "")
        if self.location is not None and location != self.location:
            return False
        if self.login:
            parts = urlsplit(location)
            if parts.path != "/login" or parse_qs(parts.query).get("next") != [path]:
                return False
        # A HEAD answer has no body to read the problem from: its status and type have to do.
        if response.request.method == "HEAD":
            return self.problem is None or response.mimetype == PROBLEM_MIMETYPE
        return self.problem is None or problem_slug(response) == self.problem


def status(code: int) -> Outcome:
    return Outcome(str(code), (code,))


def problem_slug(response: TestResponse) -> str | None:
    if response.mimetype != PROBLEM_MIMETYPE or not response.data:
        return None
    return response.get_json()["type"].rpartition("#")[2]


OK = Outcome("2xx", range(200, 300))
SEE_OTHER = Outcome("303", (303,))
LOGIN = Outcome("302 to /login?next=<path>", (302,), login=True)
START = Outcome("303 to /studio/start", (303,), location="/studio/start")
TO_STUDIO = Outcome("303 to /studio/", (303,), location="/studio/")
HOME = Outcome("302 to /", (302,), location="/")
FEED = Outcome("303 to /", (303,), location="/")
TO_TOKENS = Outcome("303 to /settings/tokens", (303,), location="/settings/tokens")
UNAVAILABLE = Outcome("503 unavailable problem", (503,), problem="unavailable")
SCOPE = Outcome("403 insufficient-scope problem", (403,), problem="insufficient-scope")


def every(outcome: Outcome | int | str) -> dict[str, Outcome | int | str]:
    """The same answer for every caller."""
    return dict.fromkeys(SESSION_CALLERS, outcome)


# Kinds of route: what each caller gets; "ok" is the row's success (any 2xx unless the row says otherwise).
PUBLIC = every("ok")
GUEST_PAGE = every(HOME) | {"anonymous": "ok"}  # log in, register: the signed-in are sent to the feed
ACCOUNT_PAGE = every("ok") | {"anonymous": LOGIN}
CREATOR_PAGE = {"anonymous": LOGIN, "viewer": START, "pro": START, "owner": "ok", "other": "ok", "moderator": 403,
                "admin": "ok"}
OWNER_PAGE = CREATOR_PAGE | {"other": 404}  # another creator's video is "not found"; admins may manage any
MODERATOR_PAGE = every(403) | {"anonymous": LOGIN, "moderator": "ok", "admin": "ok"}
ADMIN_PAGE = every(403) | {"anonymous": LOGIN, "admin": "ok"}
OWNER_AND_STAFF = every(404) | {"owner": "ok", "moderator": "ok", "admin": "ok"}  # a draft video's own pages
ACCOUNT_API = every("ok") | {"anonymous": 401}
CREATOR_API = {"anonymous": 401, "viewer": 403, "pro": 403, "owner": "ok", "other": "ok", "moderator": 403,
               "admin": "ok"}
OWNER_API = CREATOR_API | {"other": 404}
KINDS = {"PUBLIC": PUBLIC, "GUEST_PAGE": GUEST_PAGE, "ACCOUNT_PAGE": ACCOUNT_PAGE, "CREATOR_PAGE": CREATOR_PAGE,
         "OWNER_PAGE": OWNER_PAGE, "MODERATOR_PAGE": MODERATOR_PAGE, "ADMIN_PAGE": ADMIN_PAGE,
         "OWNER_AND_STAFF": OWNER_AND_STAFF, "ACCOUNT_API": ACCOUNT_API, "CREATOR_API": CREATOR_API,
         "OWNER_API": OWNER_API}

TUS = {"Tus-Resumable": "1.0.0"}
JSON = {"Content-Type": "application/json"}
# What nginx tells its upload gates about the request it holds.
GATE = {"X-Original-Method": "PATCH", "X-Original-Content-Length": "2"}
VIDEO_DETAILS = {"title": "Checked by the matrix", "description": "", "visibility": "draft", "access_tier": "free"}
_serial = itertools.count(1)


def viewer_login(world: World) -> dict:
    return {"login": world.users["viewer"].handle, "password": PASSWORD}


def new_email(world: World) -> dict:
    return {"email-email": f"moved{next(_serial)}@example.com", "email-current_password": PASSWORD}


def registration(world: World) -> dict:
    handle = f"joiner{next(_serial)}"
    return {"handle": handle, "email": f"{handle}@example.com", "password": PASSWORD}


def small_file(world: World) -> dict:
    return {"file": (io.BytesIO(b"not really a video"), "clip.mp4")}


ROWS: list[dict[str, Any]] = [
    # Anyone
    {"endpoint": "static", "kind": PUBLIC, "filename": "stylesheet"},
    {"endpoint": "discovery.feed", "kind": PUBLIC},
    {"endpoint": "discovery.search", "kind": PUBLIC},
    {"endpoint": "accounts.profile", "kind": PUBLIC, "handle": "owner"},
    {"endpoint": "platform.health", "kind": PUBLIC},
    # Watching: published videos for anyone (a pro video too, as a preview), drafts for their owner and staff
    {"endpoint": "media.watch", "kind": PUBLIC, "public_id": "published"},
    {"endpoint": "media.watch", "kind": PUBLIC, "public_id": "pro_video"},
    {"endpoint": "media.watch", "kind": OWNER_AND_STAFF, "public_id": "draft"},
    {"endpoint": "media.master", "kind": PUBLIC, "public_id": "published"},
    {"endpoint": "media.master", "kind": OWNER_AND_STAFF, "public_id": "draft"},
    {"endpoint": "media.rendition", "kind": PUBLIC, "public_id": "pro_video", "name": "rendition"},
    {"endpoint": "media.rendition", "kind": OWNER_AND_STAFF, "public_id": "draft", "name": "rendition"},
    {"endpoint": "media.storyboard", "kind": PUBLIC, "public_id": "published"},
    {"endpoint": "media.storyboard", "kind": OWNER_AND_STAFF, "public_id": "draft"},
    {"endpoint": "media.media_file", "kind": PUBLIC, "url": "signed_poster"},
    {"endpoint": "media.media_file", "kind": every(403), "key": "poster_key"},  # the signature is the only key
    # Accounts
    {"endpoint": "accounts.login", "kind": GUEST_PAGE},
    {"endpoint": "accounts.login", "method": "POST", "kind": GUEST_PAGE, "ok": SEE_OTHER, "isolated": True,
     "form": viewer_login},
    {"endpoint": "accounts.register", "kind": GUEST_PAGE},
    {"endpoint": "accounts.register", "method": "POST", "kind": GUEST_PAGE, "ok": SEE_OTHER, "isolated": True,
     "form": registration},
    {"endpoint": "accounts.logout", "kind": ACCOUNT_PAGE, "anonymous": HOME},
    {"endpoint": "accounts.logout", "method": "POST", "kind": PUBLIC, "ok": FEED, "isolated": True},
    {"endpoint": "accounts.settings", "kind": ACCOUNT_PAGE},
    {"endpoint": "accounts.settings_email", "method": "POST", "kind": ACCOUNT_PAGE, "ok": SEE_OTHER,
     "isolated": True, "form": new_email},
    {"endpoint": "accounts.settings_password", "method": "POST", "kind": ACCOUNT_PAGE, "ok": SEE_OTHER,
     "isolated": True, "form": {"password-current_password": PASSWORD,
                                "password-new_password": "a quite different passphrase 42"}},
    {"endpoint": "accounts.settings_tokens", "kind": ACCOUNT_PAGE},
    {"endpoint": "accounts.settings_token_create", "method": "POST", "kind": ACCOUNT_PAGE, "ok": TO_TOKENS,
     "isolated": True, "form": {"name": "made by the matrix", "scopes": "read", "days": "30"}},
    {"endpoint": "accounts.settings_token_revoke", "method": "POST", "kind": every(404) | {"anonymous": LOGIN},
     "owner": TO_TOKENS, "public_id": "owner_token"},  # revoking a revoked token again changes nothing
    # Creator Studio
    {"endpoint": "studio.start", "kind": ACCOUNT_PAGE, "owner": TO_STUDIO, "other": TO_STUDIO, "admin": TO_STUDIO},
    {"endpoint": "studio.start", "method": "POST", "kind": ACCOUNT_PAGE, "ok": TO_STUDIO, "moderator": 400,
     "isolated": True, "form": {"accept": "y"}},
    {"endpoint": "studio.index", "kind": CREATOR_PAGE},
    {"endpoint": "studio.videos", "kind": CREATOR_PAGE},
    {"endpoint": "studio.upload", "method": "POST", "kind": CREATOR_PAGE, "ok": SEE_OTHER, "form": small_file},
    {"endpoint": "studio.status", "kind": OWNER_PAGE, "public_id": "draft"},
    {"endpoint": "studio.row", "kind": OWNER_PAGE, "ok": TO_STUDIO, "public_id": "draft"},
    {"endpoint": "studio.edit", "kind": OWNER_PAGE, "public_id": "draft"},
    {"endpoint": "studio.edit", "method": "POST", "kind": OWNER_PAGE, "ok": TO_STUDIO, "public_id": "draft",
     "form": VIDEO_DETAILS},
    {"endpoint": "studio.details", "kind": OWNER_PAGE, "public_id": "draft"},
    {"endpoint": "studio.details", "method": "POST", "kind": OWNER_PAGE, "ok": TO_STUDIO, "public_id": "draft",
     "form": VIDEO_DETAILS},
    {"endpoint": "studio.publish", "method": "POST", "kind": OWNER_PAGE, "ok": SEE_OTHER, "public_id": "draft",
     "fresh": True},
    {"endpoint": "studio.delete_confirm", "kind": OWNER_PAGE, "public_id": "draft"},
    {"endpoint": "studio.delete", "method": "POST", "kind": OWNER_PAGE, "ok": TO_STUDIO, "public_id": "draft",
     "fresh": True},
    # Staff
    {"endpoint": "governance.index", "kind": MODERATOR_PAGE},
    {"endpoint": "admin.index", "kind": ADMIN_PAGE},
    {"endpoint": "admin.queues", "kind": ADMIN_PAGE},
    {"endpoint": "admin.user_role", "method": "POST", "kind": ADMIN_PAGE, "ok": SEE_OTHER,
     "user_id": "viewer_account", "fresh": True, "form": {"role": "creator", "tier": "pro"}},
    {"endpoint": "admin.user_revoke_channel", "method": "POST", "kind": ADMIN_PAGE, "ok": SEE_OTHER,
     "user_id": "creator_account", "fresh": True},
    # nginx's gates before it stores an upload body
    {"endpoint": "platform.upload_gate", "kind": CREATOR_API, "scope": Scope.upload, "headers": GATE, "csrf": True},
    {"endpoint": "platform.form_upload_gate", "kind": CREATOR_API, "headers": GATE},
    # API v1
    {"endpoint": "api-docs.openapi_json", "kind": PUBLIC, "scope": None},
    {"endpoint": "platform_api.docs", "kind": PUBLIC, "scope": None},
    {"endpoint": "platform_api.problems", "kind": PUBLIC, "scope": None},
    {"endpoint": "platform_api.auth_check", "kind": PUBLIC, "scope": None},
    # Monitored by uptime checks: open to anyone; the matrix runs no encode worker, so uploads report down.
    {"endpoint": "platform_api.feed", "kind": PUBLIC, "scope": None},
    {"endpoint": "platform_api.upload_status", "kind": every(UNAVAILABLE), "scope": None},
    {"endpoint": "platform_api.payment_status", "kind": PUBLIC, "scope": None},
    {"endpoint": "platform_api.me", "kind": ACCOUNT_API, "scope": Scope.read},
    {"endpoint": "platform_api.whoami", "kind": ACCOUNT_API, "scope": Scope.read},
    # Videos and channels
    {"endpoint": "media_api.videos", "kind": PUBLIC, "scope": None},
    {"endpoint": "media_api.video", "kind": PUBLIC, "scope": None, "public_id": "published"},
    # A draft shows to its owner's token only if it may read (a token without read sees public data alone).
    {"endpoint": "media_api.video", "kind": OWNER_AND_STAFF, "scope": None, "public_id": "draft",
     "wrong_token": 404},
    {"endpoint": "media_api.update_video", "method": "PATCH", "kind": OWNER_API, "scope": Scope.manage,
     "public_id": "draft", "body": b'{"title": "Renamed by the matrix"}', "headers": JSON},
    {"endpoint": "media_api.publish_video", "method": "POST", "kind": OWNER_API, "scope": Scope.manage,
     "public_id": "draft", "fresh": True},
    {"endpoint": "media_api.delete_video", "method": "DELETE", "kind": OWNER_API, "scope": Scope.manage,
     "public_id": "draft", "fresh": True},
    {"endpoint": "media_api.video_status", "kind": every(404) | {"anonymous": 401, "owner": "ok", "admin": "ok"},
     "scope": Scope.read, "public_id": "draft"},
    {"endpoint": "media_api.my_videos", "kind": ACCOUNT_API, "scope": Scope.read},
    {"endpoint": "media_api.channel", "kind": PUBLIC, "scope": None, "handle": "owner"},
    # tus uploads
    {"endpoint": "uploads.options", "method": "OPTIONS", "kind": PUBLIC, "scope": None, "headers": TUS},
    {"endpoint": "uploads.create", "method": "POST", "kind": CREATOR_API, "scope": Scope.upload,
     "headers": TUS | {"Upload-Length": "4", "Upload-Metadata": "filename bWF0cml4Lm1wNA=="}},
    {"endpoint": "uploads.upload", "scope": Scope.upload,
     "method": "HEAD", "kind": OWNER_API, "admin": 404, "upload_id": "upload",
     "headers": TUS},
    {"endpoint": "uploads.append", "scope": Scope.upload,
     "method": "PATCH", "kind": OWNER_API, "admin": 404, "upload_id": "upload",
     "fresh": True, "body": b"ab",
     "headers": TUS | {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}},
    {"endpoint": "uploads.terminate", "scope": Scope.upload,
     "method": "DELETE", "kind": OWNER_API, "admin": 404, "upload_id": "upload",
     "fresh": True, "headers": TUS},
]


@dataclass(frozen=True)
class Row:
    """One row of the matrix, read from its dict."""

    endpoint: str
    method: str
    expect: Mapping[str, Outcome]
    scope: Scope | str | None
    args: Mapping[str, str]
    url: str | None
    form: dict | Callable[[World], dict] | None
    headers: Mapping[str, str]
    body: bytes | None
    fresh: bool
    isolated: bool
    csrf: bool

    @property
    def label(self) -> str:
        args = ", ".join(f"{name}={thing}" for name, thing in self.args.items())
        return f"{self.method} {self.endpoint}" + (f" ({args})" if args else "")

    def needs_csrf(self) -> bool:
        return self.csrf or self.method not in SAFE_METHODS


ROW_KEYS = {"endpoint", "method", "kind", "ok", "scope", "url", "form", "headers", "body", "fresh", "isolated",
            "csrf"}


def outcome(value: Outcome | int) -> Outcome:
    return value if isinstance(value, Outcome) else status(value)


def read_row(spec: dict[str, Any]) -> Row:
    """A row from its dict: the kind's cells with ``"ok"`` filled in, and the row's own cells over them."""
    ok = outcome(spec.get("ok", OK))
    cells = {**spec["kind"], **{name: spec[name] for name in CALLERS if name in spec}}
    missing = set(SESSION_CALLERS) - set(cells)
    assert not missing, f"row {spec['endpoint']} says nothing for {sorted(missing)}"
    return Row(endpoint=spec["endpoint"], method=spec.get("method", "GET"),
               expect={name: ok if cell == "ok" else outcome(cell) for name, cell in cells.items()},
               scope=spec.get("scope", NO_TOKEN),
               args={key: value for key, value in spec.items() if key not in ROW_KEYS and key not in CALLERS},
               url=spec.get("url"), form=spec.get("form"), headers=spec.get("headers", {}), body=spec.get("body"),
               fresh=spec.get("fresh", False), isolated=spec.get("isolated", False), csrf=spec.get("csrf", False))


MATRIX = [read_row(spec) for spec in ROWS]


def token_paths(path: str) -> bool:
    return path.startswith(TOKEN_PATHS)


def expected(row: Row, caller: str, path: str) -> Outcome:
    """The row's cell for ``caller``; token holders' cells follow from the route's scope."""
    if caller in row.expect:
        return row.expect[caller]
    if not token_paths(path):
        return row.expect["anonymous"]  # a page ignores the token
    if row.scope == NO_TOKEN:
        return SCOPE
    if caller == "token" or row.scope is None:
        return row.expect["viewer" if caller == "viewer_token" else "owner"]
    if caller == "viewer_token":
        return row.expect["viewer"] if row.scope is Scope.read else SCOPE
    return SCOPE


@dataclass
class Caller:
    """A client with its session's CSRF token, and a bearer secret for the token holders."""

    name: str
    client: FlaskClient
    csrf: str
    user: User | None = None
    bearer: str | None = None


@dataclass
class World:
    """The module's users, callers and objects (made once); ``thing(name, fresh=True)`` makes a new one."""

    app: Flask
    users: dict[str, User] = field(default_factory=dict)
    callers: dict[str, Caller] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    things: dict[str, str] = field(default_factory=dict)

    ROLES = {"viewer": ("viewer", "free"), "pro": ("viewer", "pro"), "owner": ("creator", "free"),
             "other": ("creator", "free"), "moderator": ("moderator", "free"), "admin": ("admin", "free")}

    @classmethod
    def build(cls, app: Flask) -> World:
        world = cls(app)
        for name, (role, tier) in cls.ROLES.items():
            world.users[name] = make_user(app, role=role, tier=tier)
        with app.app_context():
            owner, viewer = (db.session.get(User, world.users[name].id) for name in ("owner", "viewer"))
            for scope in Scope:
                world.secrets[f"only {scope}"] = tokens.create_token(owner, f"only {scope}", [scope], 30)[1]
                others = [other for other in Scope if other is not scope]
                world.secrets[f"all but {scope}"] = tokens.create_token(owner, f"all but {scope}", others, 30)[1]
            world.secrets["viewer"] = tokens.create_token(viewer, "viewer read", [Scope.read], 30)[1]
        for name in CALLERS:
            world.callers[name] = world.new_caller(name)
        return world

    def new_caller(self, name: str) -> Caller:
        """A caller of kind ``name``: logged in as a new user of its role when the world's own one is taken."""
        client = self.app.test_client()
        if name == "anonymous" or name in TOKEN_CALLERS:
            return Caller(name, client, csrf_token(client, "/login"))
        user = self.users[name]
        if name in self.callers:
            role, tier = self.ROLES[name]
            user = make_user(self.app, role=role, tier=tier)
        log_in(client, user.handle)
        return Caller(name, client, csrf_token(client, "/"), user=user)

    def caller(self, name: str, row: Row, isolated: bool) -> Caller:
        """``name``'s caller for ``row``: with the token that fits the route, for the token holders."""
        caller = self.new_caller(name) if isolated else self.callers[name]
        if name in TOKEN_CALLERS:
            scope = row.scope if isinstance(row.scope, Scope) else Scope.read
            caller.bearer = self.secrets[{"token": f"only {scope}", "wrong_token": f"all but {scope}",
                                          "viewer_token": "viewer"}[name]]
        return caller

    def thing(self, name: str, fresh: bool = False) -> str:
        """The world's object ``name`` (a handle, a public id, an upload id...), or a new one of its kind."""
        if fresh or name not in self.things:
            assert name in self.MAKERS, f"the world makes no {name!r}; add a maker to World.MAKERS"
            with self.app.app_context():
                value = self.MAKERS[name](self)
            if fresh:
                return value
            self.things[name] = value
        return self.things[name]

    def url(self, row: Row, fresh: bool = False) -> str:
        if row.url is not None:
            return self.thing(row.url, fresh)
        values = {name: self.thing(thing, fresh) for name, thing in row.args.items()}
        with self.app.test_request_context():
            return self.app.url_for(row.endpoint, **values)

    def owner(self) -> User:
        return db.session.get(User, self.users["owner"].id)

    def video(self, visibility: Visibility, tier: AccessTier = AccessTier.free) -> str:
        """A ready video of the owner with small stand-ins for its encoded files (no encode needed to route)."""
        public_id = new_public_id()
        prefix = f"published/{public_id}/v1/"
        store = storage()
        store.put_bytes(prefix + "master.m3u8", b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=400000\n240p/index.m3u8\n")
        store.put_bytes(prefix + "240p/index.m3u8",
                        b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg_00000.ts\n#EXT-X-ENDLIST\n")
        store.put_bytes(prefix + "storyboard/storyboard.vtt",
                        b"WEBVTT\n\n00:00:00.000 --> 00:00:04.000\nsheet_000.jpg#xywh=0,0,160,90\n")
        store.put_bytes(prefix + "poster.jpg", b"\xff\xd8\xff\xd9")
        db.session.add(Video(public_id=public_id, owner_id=self.users["owner"].id, title="Matrix video",
                             visibility=visibility, access_tier=tier, state=VideoState.ready, published_prefix=prefix,
                             duration=4.0, width=426, height=240, renditions=[{"name": "240p", "width": 426,
                                                                               "height": 240}]))
        db.session.commit()
        return public_id

    def account(self, role: str) -> str:
        return str(make_user(self.app, role=role).id)

    MAKERS: ClassVar[dict[str, Callable[[World], str]]] = {
        "owner": lambda world: world.users["owner"].handle,
        "draft": lambda world: world.video(Visibility.draft),
        "published": lambda world: world.video(Visibility.published),
        "pro_video": lambda world: world.video(Visibility.published, AccessTier.pro),
        "rendition": lambda world: "240p",
        "stylesheet": lambda world: "css/wm.css",
        "poster_key": lambda world: f"published/{world.thing('published')}/v1/poster.jpg",
        "signed_poster": lambda world: media_url(world.thing("poster_key")),
        "upload": lambda world: upload_service.create(world.owner(), 4, {"filename": "matrix.mp4"}).id,
        "owner_token": lambda world: tokens.create_token(world.owner(), "to revoke", [Scope.read], 30)[0].public_id,
        "viewer_account": lambda world: world.account("viewer"),
        "creator_account": lambda world: world.account("creator"),
    }


@pytest.fixture(scope="module")
def world(_mysql_app: Flask) -> Iterator[World]:
    """The module's world on MariaDB, with rate limits that hundreds of requests from one address stay under."""
    app = _mysql_app
    limits = {name: app.config[name] for name in ("WM_LOGIN_RATE_LIMIT", "WM_API_RATE_LIMIT",
                                                   "WM_API_TOKEN_RATE_LIMIT")}
    reset_state(app)
    app.config.update(dict.fromkeys(limits, "100000 per minute"))
    try:
        yield World.build(app)
    finally:
        app.config.update(limits)
        reset_state(app)


def send(world: World, caller: Caller, row: Row, url: str, csrf: bool = True,
         headers: Mapping[str, str] | None = None) -> TestResponse:
    """``row``'s request as ``caller`` makes it: with its session's CSRF token (unless ``csrf`` is false)."""
    sent = {**row.headers, **(headers or {})}
    if caller.bearer:
        sent["Authorization"] = f"Bearer {caller.bearer}"
    form = row.form(world) if callable(row.form) else dict(row.form) if row.form is not None else None
    if csrf and row.needs_csrf():
        sent["X-CSRFToken"] = caller.csrf
        if form is not None:
            form["csrf_token"] = caller.csrf
    return caller.client.open(url, method=row.method, headers=sent, data=form if form is not None else row.body)


def describe(response: TestResponse) -> str:
    where = response.headers.get("Location") or problem_slug(response)
    return f"{response.status_code}" + (f" ({where})" if where else "")


def served_routes(app: Flask) -> dict[tuple[str, str], Rule]:
    """Every (endpoint, method) the app serves; HEAD and OPTIONS only where Flask does not add them itself."""
    routes = {}
    for rule in app.url_map.iter_rules():
        methods = set(rule.methods or ())
        if "GET" in methods:
            methods.discard("HEAD")
        if getattr(rule, "provide_automatic_options", True):
            methods.discard("OPTIONS")
        routes.update({(rule.endpoint, method): rule for method in methods})
    return routes


def row_to_add(app: Flask, rule: Rule, method: str) -> str:
    """The dict literal a new route needs, with what can be read off the route already filled in."""
    parts = [f'"endpoint": "{rule.endpoint}"'] + ([f'"method": "{method}"'] if method != "GET" else [])
    parts.append('"kind": <one of ' + ", ".join(KINDS) + ">")
    scope = getattr(app.view_functions[rule.endpoint], "_wm_scope", NO_TOKEN)
    if token_paths(rule.rule) and scope != NO_TOKEN:
        parts.append(f'"scope": {"None" if scope is None else f"Scope.{scope}"}')
    parts += [f'"{name}": <one of {", ".join(World.MAKERS)}>' for name in sorted(rule.arguments)]
    return "{" + ", ".join(parts) + "}"


def test_every_route_has_a_row_and_every_row_a_route(_mysql_app):
    app = _mysql_app
    routes = served_routes(app)
    covered = {(row.endpoint, row.method) for row in MATRIX}
    missing = [f"No row for {method} {rule.rule}: add to ROWS in tests/test_authorization.py\n    "
               + row_to_add(app, rule, method) for (endpoint, method), rule in sorted(routes.items())
               if (endpoint, method) not in covered]
    assert not missing, "\n".join(missing)
    stale = sorted(f"{row.label}: the app serves no such route" for row in MATRIX
                   if (row.endpoint, row.method) not in routes)
    assert not stale, "\n".join(stale)
    for row in MATRIX:
        rule = routes[(row.endpoint, row.method)]
        if row.url is None:
            assert set(row.args) == set(rule.arguments), f"{row.label}: fill exactly {sorted(rule.arguments)}"
        if token_paths(rule.rule):
            declared = getattr(app.view_functions[row.endpoint], "_wm_scope", NO_TOKEN)
            assert declared == row.scope, f"{row.label}: the view takes tokens of scope {declared!r}, the row says " \
                                          f"{row.scope!r}"
        else:
            assert row.scope == NO_TOKEN, f"{row.label}: a token never reaches {rule.rule}; drop the row's scope"


def test_every_caller_gets_what_its_row_says(world):
    wrong = []
    for row in MATRIX:
        for name in CALLERS:
            url = world.url(row, fresh=row.fresh)
            path = urlsplit(url).path
            response = send(world, world.caller(name, row, row.isolated), row, url)
            want = expected(row, name, path)
            if not want.matches(response, path):
                wrong.append(f"{row.label} as {name}: wants {want.label}, got {describe(response)} from {url}")
            elif path.startswith("/api/") and response.status_code >= 400 and response.mimetype != PROBLEM_MIMETYPE:
                wrong.append(f"{row.label} as {name}: a refusal on the API must be problem+json")
    assert not wrong, f"{len(wrong)} cells of the matrix do not hold:\n" + "\n".join(wrong)
    for name in SIGNED_IN:
        me = world.callers[name].client.get("/api/v1/me").get_json()
        assert me["handle"] == world.users[name].handle, f"the sweep signed {name} out: its later cells went untested"


def snapshot(app: Flask) -> tuple:
    """Every row of every table, and every stored file with its size."""
    with app.app_context():
        tables = {table.name: sorted(map(repr, db.session.execute(table.select()).all()))
                  for table in db.metadata.sorted_tables}
        db.session.remove()
    var = Path(app.config["WM_VAR_DIR"])
    files = sorted((str(path), path.stat().st_size) for folder in ("storage", "uploads")
                   for path in (var / folder).rglob("*") if path.is_file())
    return tables, files


def refused_for_csrf(world: World, row: Row, caller: str, response: TestResponse, path: str) -> bool:
    """The CSRF refusal: a 403 csrf problem on the API, nginx's gate refusing, a 400 'not sent from this site' page.

    An anonymous API call carries no one's credentials, so it gets its 401 instead. A form view is drawn again to
    show the refusal beside the form, and a caller it never shows the form to gets its cell of the matrix there
    (the login redirect, a 404, the feed for the signed-in); whatever the answer, nothing may have changed.
    """
    if path.startswith("/api/"):
        return problem_slug(response) == "csrf" or (caller == "anonymous" and response.status_code == 401)
    if path.startswith("/_edge/"):
        return response.status_code in (401, 403)
    if response.status_code == 400 and b"was not sent from this site" in response.data:
        return True
    with world.app.app_context():
        return is_form_view(row.endpoint) and expected(row, caller, path).matches(response, path)


def test_a_session_request_without_its_csrf_token_is_refused_and_changes_nothing(world):
    wrong = []
    for row in (row for row in MATRIX if row.needs_csrf()):
        # New objects for every request, with form values that differ from what they hold: a request that got
        # through would change something.
        requests = [(name, world.url(row, fresh=True)) for name in SESSION_CALLERS]
        before = snapshot(world.app)
        for name, url in requests:
            path = urlsplit(url).path
            response = send(world, world.callers[name], row, url, csrf=False)
            if not refused_for_csrf(world, row, name, response, path):
                wrong.append(f"{row.label} as {name} without a CSRF token: {describe(response)}")
        if snapshot(world.app) != before:
            wrong.append(f"{row.label}: requests without a CSRF token changed the database or the stored files")
    assert not wrong, "\n".join(wrong)
    for name in SIGNED_IN:
        assert world.callers[name].client.get("/settings").status_code == 200, f"{name} was signed out"


def test_an_htmx_request_that_needs_a_login_or_a_channel_is_redirected_by_hx_redirect(world):
    wrong = []
    for row in MATRIX:
        for name, cell in (("anonymous", LOGIN), ("viewer", START)):
            if row.expect[name] is not cell:
                continue
            url = world.url(row, fresh=row.fresh)
            path = urlsplit(url).path
            response = send(world, world.callers[name], row, url, headers={"HX-Request": "true"})
            target = response.headers.get("HX-Redirect", "")
            if cell is LOGIN:
                parts = urlsplit(target)
                ok = (response.status_code == 401 and parts.path == "/login"
                      and parse_qs(parts.query).get("next") == [path])
            else:
                ok = response.status_code == 204 and target == "/studio/start"
            if not ok or response.data:
                wrong.append(f"{row.label} as {name} by htmx: {response.status_code}, HX-Redirect {target!r}")
    assert not wrong, "\n".join(wrong)


def test_the_navigation_links_each_caller_to_the_staff_and_studio_pages_it_may_open(world):
    pages = {"/studio/": "studio.index", "/moderation/": "governance.index", "/admin/": "admin.index"}
    cells = {row.endpoint: row.expect for row in MATRIX if row.endpoint in pages.values()}
    for name in SESSION_CALLERS:
        nav = world.callers[name].client.get("/").get_data(as_text=True)
        for href, endpoint in pages.items():
            assert (f'href="{href}"' in nav) == (cells[endpoint][name] is OK), (name, href)
