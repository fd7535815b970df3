"""The videos and channels API: the feed's pages, a video and its playback for the caller, a creator's edits,
encode status, channels; by session (with its CSRF header) and by access token."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from urllib.parse import urljoin

import pytest
from sqlalchemy import select

from tests.fixtures.apps import counted_queries, csrf_token
from tests.fixtures.media import make_clip, publish_clip
from tests.fixtures.users import log_in, make_user
from wm.api import Cursor
from wm.extensions import db
from wm.models.accounts import User
from wm.models.base import utcnow
from wm.models.governance import AuditRecord
from wm.models.media import AccessTier, Video, VideoState, Visibility
from wm.services.accounts.tokens import create_token
from wm.services.media import get_video, new_public_id
from wm.services.media import upload as upload_service

PREVIEW = 4
_titles = itertools.count(1)


def add_video(app, owner: User, **fields) -> str:
    """A video row of ``owner`` (published and ready unless ``fields`` say otherwise); its public id."""
    values = {"title": f"Video {next(_titles)}", "state": VideoState.ready, "visibility": Visibility.published,
              "published_prefix": "published/x/v1/", "duration": 12.0, **fields}
    with app.app_context():
        video = Video(public_id=new_public_id(), owner_id=owner.id, **values)
        db.session.add(video)
        db.session.commit()
        return video.public_id


def token_for(app, user: User, *scopes: str) -> dict[str, str]:
    """An ``Authorization`` header with a new token of ``user`` holding ``scopes``."""
    with app.app_context():
        _, secret = create_token(db.session.get(User, user.id), f"test {'+'.join(scopes)}", scopes, 30)
    return {"Authorization": f"Bearer {secret}"}


def row(app, public_id: str) -> dict:
    """What a refused request must leave as it was."""
    with app.app_context():
        video = get_video(public_id, include_deleted=True)
        return {name: getattr(video, name) for name in ("title", "description", "visibility", "access_tier",
                                                        "deleted_at")}


def audit_events(app, public_id: str) -> list[str]:
    """What the audit log says happened to the video."""
    with app.app_context():
        return list(db.session.scalars(select(AuditRecord.event_type).where(AuditRecord.target_id == public_id)
                                       .order_by(AuditRecord.id)))


def problem_of(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def walk(client, path: str, limit: int, headers: dict | None = None, between=None) -> list[str]:
    """Every public id of a paginated list, following next_cursor; ``between()`` runs after each page."""
    seen, cursor = [], None
    while True:
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, query_string=query, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        seen += [item["public_id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
        if between:
            between()


@pytest.fixture
def creator(app):
    return make_user(app, role="creator")


@pytest.fixture
def creator_client(app, creator):
    client = app.test_client()
    log_in(client, creator.handle)
    client.csrf = {"X-CSRFToken": csrf_token(client)}  # type: ignore[attr-defined]
    return client


# Listing and pagination

def test_the_feed_pages_walk_every_video_once_newest_first_even_with_inserts_between_pages(any_app):
    app, client, creator = any_app, any_app.test_client(), make_user(any_app, role="creator")
    now = utcnow()
    # Three videos share each instant, so the pages must break ties by id.
    original = [add_video(app, creator, created_at=now - timedelta(seconds=i // 3)) for i in range(23)]
    add_video(app, creator, visibility=Visibility.draft)
    add_video(app, creator, state=VideoState.processing)
    add_video(app, creator, deleted_at=now)
    other = make_user(app, role="creator")

    def insert_newer_and_tied() -> None:
        add_video(app, other, created_at=utcnow())
        add_video(app, other, created_at=now)  # the newest second again, with a higher id than all before

    seen = walk(client, "/api/v1/videos", 4, between=insert_newer_and_tied)
    assert sorted(seen) == sorted(original) and len(seen) == len(set(seen))
    with app.app_context():
        keys = [(v.created_at, v.id) for v in (get_video(public_id) for public_id in seen)]
    assert keys == sorted(keys, reverse=True)


def test_my_videos_lists_every_state_and_visibility_by_session_and_by_token(app, client, creator, creator_client):
    mine = [add_video(app, creator, visibility=visibility, state=state)
            for visibility in Visibility for state in VideoState]
    add_video(app, make_user(app, role="creator"))
    add_video(app, creator, deleted_at=utcnow())
    assert sorted(walk(creator_client, "/api/v1/me/videos", 3)) == sorted(mine)
    assert sorted(walk(client, "/api/v1/me/videos", 5, token_for(app, creator, "read"))) == sorted(mine)
    assert problem_of(client.get("/api/v1/me/videos"), 401)["type"].endswith("#unauthorized")
    refused = problem_of(client.get("/api/v1/me/videos", headers=token_for(app, creator, "upload")), 403)
    assert refused["type"].endswith("#insufficient-scope")


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=-1", "limit=x", "limit=%C2%B2", "limit=1e2",
                                   "limit=%D9%A3", "limit=1_0", "limit=+5", "limit=" + "9" * 30])
def test_limits_outside_1_to_100_are_422_problems(client, query):
    body = problem_of(client.get(f"/api/v1/videos?{query}"), 422)
    assert body["type"].endswith("#validation") and "limit" in body["errors"]["query"]


def test_garbage_and_tampered_cursors_are_422_problems(app, client, creator):
    for _ in range(3):
        add_video(app, creator)
    cursor = client.get("/api/v1/videos?limit=1").get_json()["next_cursor"]
    payload, _, signature = cursor.rpartition(".")
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    with app.test_request_context():
        listing = "videos:None:None:None:None"
        wrong_kinds = [Cursor.encode(listing, "2026-01-01", 1), Cursor.encode(listing, 1),
                       Cursor.encode(listing, 1, 2, 3), Cursor.encode(listing, True, 1)]
    for bad in ["garbage", "", f"{flipped}.{signature}", f"{payload}.{signature[::-1]}", "x" * 400, "é.☃",
                *wrong_kinds]:
        body = problem_of(client.get("/api/v1/videos", query_string={"cursor": bad}), 422)
        assert "cursor" in body["errors"]["query"], bad
    assert problem_of(client.get("/api/v1/videos", query_string={"cursor": "x" * 401}), 422)
    assert client.get("/api/v1/videos", query_string={"cursor": cursor}).status_code == 200
    # A cursor leads on only in the list that gave it: not with other filters, not in another list.
    elsewhere = [("/api/v1/videos", {"tier": "free"}), ("/api/v1/videos", {"channel": creator.handle}),
                 ("/api/v1/me/videos", {})]
    log_in(client, creator.handle)
    for path, filters in elsewhere:
        assert "cursor" in problem_of(client.get(path, query_string={**filters, "cursor": cursor}),
                                      422)["errors"]["query"], (path, filters)


def test_filters_by_channel_title_tier_and_length(app, client, creator):
    other = make_user(app, role="creator")
    talk = add_video(app, creator, title="A long TALK about 100% cotton", is_long=True)
    pro = add_video(app, creator, title="Members only", access_tier=AccessTier.pro)
    elsewhere = add_video(app, other, title="Another talk")

    def ids(query: str) -> set[str]:
        response = client.get(f"/api/v1/videos?{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return {item["public_id"] for item in response.get_json()["items"]}

    assert ids(f"channel={creator.handle.upper()}") == {talk, pro}
    assert ids("q=talk") == {talk, elsewhere} and ids("q=100%25") == {talk} and ids("q=_") == set()
    assert ids("tier=pro") == {pro} and ids("tier=free") == {talk, elsewhere}
    assert ids("long=true") == {talk} and ids("long=false") == {pro, elsewhere}
    assert ids(f"channel={creator.handle}&q=talk&long=true&tier=free") == {talk}
    assert problem_of(client.get("/api/v1/videos?channel=nobody"), 404)
    assert "tier" in problem_of(client.get("/api/v1/videos?tier=gold"), 422)["errors"]["query"]


def test_a_page_costs_the_same_queries_whatever_its_size_and_depth(app, client):
    creators = [make_user(app, role="creator") for _ in range(6)]
    for i in range(130):
        add_video(app, creators[i % 6])
    deep = client.get("/api/v1/videos?limit=100").get_json()["next_cursor"]
    token = token_for(app, creators[0], "read")
    client.get("/api/v1/videos?limit=1", headers=token)  # the token's first use is written once; not counted below
    counts = {}
    for name, query in {"10": "limit=10", "100": "limit=100", "deep 10": f"limit=10&cursor={deep}",
                        "deep 100": f"limit=100&cursor={deep}"}.items():
        for caller, headers in {"anonymous": {}, "token": token}.items():
            with counted_queries(app) as statements:
                response = client.get(f"/api/v1/videos?{query}", headers=headers)
            assert response.status_code == 200
            counts[name, caller] = len(statements)
    assert {counts[name, "anonymous"] for name in ("10", "100", "deep 10", "deep 100")} == {1}, counts
    assert len({counts[name, "token"] for name in ("10", "100", "deep 10", "deep 100")}) == 1, counts


# One video, its playback and who may see it

@pytest.fixture
def pro_video(app, clip_dir):
    """A creator's 12-second pro video, encoded and published; previews are 4 seconds long."""
    owner, public_id = publish_clip(app, make_clip(clip_dir, "landscape", 12))
    with app.app_context():
        get_video(public_id).access_tier = AccessTier.pro
        db.session.commit()
    app.config["WM_PREVIEW_SECONDS"] = PREVIEW
    yield owner, public_id
    app.config["WM_PREVIEW_SECONDS"] = 60


def seconds_played(app, hls_url: str) -> float:
    """Fetch the master playlist and its first rendition with no credentials at all; the seconds it lists, after
    checking that a listed segment downloads."""
    stranger = app.test_client()
    master = stranger.get(hls_url)
    assert master.status_code == 200 and master.mimetype == "application/vnd.apple.mpegurl"
    variant = next(line for line in master.get_data(as_text=True).splitlines() if line and not line.startswith("#"))
    playlist = stranger.get(urljoin(hls_url, variant))
    assert playlist.status_code == 200, variant
    text = playlist.get_data(as_text=True)
    segment = next(line for line in text.splitlines() if line and not line.startswith("#"))
    assert stranger.get(urljoin(hls_url, segment)).status_code == 200
    return sum(float(m) for m in re.findall(r"#EXTINF:([\d.]+)", text))


def test_playback_urls_play_the_whole_video_to_its_owner_and_pro_members_and_the_preview_to_others(app, client,
                                                                                                   pro_video):
    owner, public_id = pro_video
    pro_member = make_user(app, role="viewer", tier="pro")
    free_viewer = make_user(app, role="viewer")
    pro_session = app.test_client()
    log_in(pro_session, pro_member.handle)
    callers = {
        "owner's token": (client, token_for(app, owner, "read"), True),
        "pro member's token": (client, token_for(app, pro_member, "read"), True),
        "pro member's session": (pro_session, {}, True),
        "free viewer's token": (client, token_for(app, free_viewer, "read"), False),
        "anonymous": (client, {}, False),
    }
    for name, (caller, headers, whole) in callers.items():
        response = caller.get(f"/api/v1/videos/{public_id}", headers=headers)
        assert response.status_code == 200, name
        body = response.get_json()
        assert body["state"] == "ready" and body["duration"] == pytest.approx(12, abs=0.2)
        assert body["width"] == 1280 and body["stored_bytes"] > 0 and body["channel"]["handle"] == owner.handle
        playback = body["playback"]
        assert playback["hls"].startswith(app.config["WM_PUBLIC_URL"] + "/v/") and "/api/" not in playback["hls"]
        seconds = seconds_played(app, playback["hls"])
        storyboard = app.test_client().get(playback["storyboard"])
        assert storyboard.status_code == 200 and storyboard.mimetype == "text/vtt"
        assert app.test_client().get(playback["poster"]).status_code == 200
        if whole:
            assert seconds >= 11.9 and playback["preview_seconds"] is None, name
            assert app.test_client().get(playback["mp4"], headers={"Range": "bytes=0-99"}).status_code == 206
            assert storyboard.get_data(as_text=True).count("#xywh=") == 6
        else:
            assert seconds <= PREVIEW + 0.5 and playback["preview_seconds"] == PREVIEW, name
            assert playback["mp4"] is None and "#xywh=" not in storyboard.get_data(as_text=True)


def test_a_playback_grant_opens_only_its_own_video_and_cannot_be_forged(app, client, pro_video):
    _, public_id = pro_video
    other = add_video(app, make_user(app, role="creator"))
    hls = client.get(f"/api/v1/videos/{public_id}").get_json()["playback"]["hls"]
    grant = hls.split("/g/")[1].split("/")[0]
    payload, _, signature = grant.rpartition(".")
    assert client.get(f"/v/{other}/g/{grant}/master.m3u8").status_code == 404
    assert client.get(f"/v/{public_id}/g/{payload}.{signature[::-1]}/720p/index.m3u8").status_code == 404
    assert client.get(f"/v/{public_id}/g/garbage/storyboard.vtt").status_code == 404
    with app.app_context():
        get_video(public_id).deleted_at = utcnow()
        db.session.commit()
    assert client.get(hls).status_code == 404


def test_a_playback_grant_ends_when_its_video_turns_private_or_changes_tier(app, client, pro_video):
    _, public_id = pro_video
    hls = client.get(f"/api/v1/videos/{public_id}").get_json()["playback"]["hls"]
    assert client.get(hls).status_code == 200
    for change in ({"visibility": Visibility.private}, {"access_tier": AccessTier.free}):
        with app.app_context():
            video = get_video(public_id)
            before = {name: getattr(video, name) for name in change}
            for name, value in change.items():
                setattr(video, name, value)
            db.session.commit()
        assert client.get(hls).status_code == 404, change
        with app.app_context():
            video = get_video(public_id)
            for name, value in before.items():
                setattr(video, name, value)
            db.session.commit()
        assert client.get(hls).status_code == 200


def test_a_json_body_nested_too_deeply_is_a_400_problem(app, client, creator):
    public_id = add_video(app, creator)
    before = row(app, public_id)
    response = client.patch(f"/api/v1/videos/{public_id}", data="[" * 100_000 + "]" * 100_000,
                            content_type="application/json", headers=token_for(app, creator, "manage"))
    assert problem_of(response, 400)["type"] == "/api/v1/problems#bad-request"
    assert row(app, public_id) == before


def test_an_admins_token_acts_only_on_the_admins_own_videos(app, client, creator):
    public_id = add_video(app, creator, visibility=Visibility.draft)
    admin = make_user(app, role="admin")
    headers = token_for(app, admin, "read", "manage")
    before = row(app, public_id)
    assert client.patch(f"/api/v1/videos/{public_id}", json={"title": "Taken"}, headers=headers).status_code == 404
    assert client.post(f"/api/v1/videos/{public_id}/publish", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/videos/{public_id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/videos/{public_id}/status", headers=headers).status_code == 404
    assert row(app, public_id) == before
    log_in(client, admin.handle)  # staff powers stay with the session (the studio's rule)
    edited = client.patch(f"/api/v1/videos/{public_id}", json={"title": "Fixed by staff"},
                          headers={"X-CSRFToken": csrf_token(client)})
    assert edited.status_code == 200 and edited.get_json()["title"] == "Fixed by staff"


def test_drafts_and_private_videos_are_found_only_by_their_owner(app, client, creator, creator_client):
    stranger, moderator = make_user(app, role="creator"), make_user(app, role="moderator")
    for visibility in (Visibility.draft, Visibility.private):
        public_id = add_video(app, creator, visibility=visibility, state=VideoState.processing, published_prefix=None)
        url = f"/api/v1/videos/{public_id}"
        for headers in ({}, token_for(app, stranger, "read", "manage"), token_for(app, creator, "upload")):
            assert problem_of(client.get(url, headers=headers), 404)["detail"] == "No such video."
        for headers in (token_for(app, creator, "read"), token_for(app, moderator, "read")):
            assert client.get(url, headers=headers).get_json()["visibility"] == visibility.value
        body = creator_client.get(url).get_json()
        assert body["state"] == "processing" and body["playback"] is None
    assert problem_of(client.get("/api/v1/videos/doesNotExist"), 404)["detail"] == "No such video."


# Changing a video

def test_the_owner_edits_a_video_by_session_with_csrf_and_by_token(app, client, creator, creator_client):
    public_id = add_video(app, creator, visibility=Visibility.draft)
    response = creator_client.patch(f"/api/v1/videos/{public_id}", json={"title": "  New title ", "description":
                                    "Line one\nline two"}, headers=creator_client.csrf)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["title"] == "New title" and row(app, public_id)["description"] == "Line one\nline two"
    refused = problem_of(creator_client.patch(f"/api/v1/videos/{public_id}", json={"title": "No CSRF"}), 403)
    assert refused["type"].endswith("#csrf") and row(app, public_id)["title"] == "New title"
    manage = token_for(app, creator, "manage")
    response = client.patch(f"/api/v1/videos/{public_id}", json={"access_tier": "pro"}, headers=manage)
    assert response.status_code == 200 and row(app, public_id)["access_tier"] is AccessTier.pro
    assert row(app, public_id)["title"] == "New title", "what a PATCH leaves out stays"
    response = client.patch(f"/api/v1/videos/{public_id}", json={"visibility": "published"}, headers=manage)
    assert response.get_json()["visibility"] == "published"
    assert audit_events(app, public_id) == ["content.published"]


@pytest.mark.parametrize(("changes", "fields"), [
    ({"title": "Bell\x07"}, {"title"}),
    ({"title": "Right\u202eto left"}, {"title"}),
    ({"description": "Escape \x1b[31m"}, {"description"}),
    ({"title": "x" * 201}, {"title"}),
    ({"description": "x" * 5001}, {"description"}),
    ({"title": "   "}, {"title"}),
    ({"title": None}, {"title"}),
    ({"title": "Bell\x07", "description": "Null\x00"}, {"title", "description"}),
    ({"visibility": "everyone", "access_tier": "gold"}, {"visibility", "access_tier"}),
    ({"owner_id": 1}, {"owner_id"}),
    ({"title": "Lone \ud800 surrogate", "description": "x\udc80"}, {"title", "description"}),
])
def test_edits_the_studio_form_refuses_are_422_problems_naming_each_field(app, client, creator, changes, fields):
    public_id = add_video(app, creator)
    before = row(app, public_id)
    response = client.patch(f"/api/v1/videos/{public_id}", json=changes, headers=token_for(app, creator, "manage"))
    body = problem_of(response, 422)
    assert set(body["errors"]["json"]) == fields
    assert row(app, public_id) == before


def test_a_body_that_is_not_json_is_refused(app, client, creator):
    public_id = add_video(app, creator)
    manage = token_for(app, creator, "manage")
    response = client.patch(f"/api/v1/videos/{public_id}", data={"title": "Form post"}, headers=manage)
    assert problem_of(response, 415)["type"].endswith("#unsupported-media-type")
    response = client.patch(f"/api/v1/videos/{public_id}", data="{not json", headers=manage,
                            content_type="application/json")
    assert problem_of(response, 400)
    assert row(app, public_id)["title"] != "Form post"


def test_nobody_but_the_owner_changes_a_video_and_refusals_change_nothing(app, client, creator):
    public_id = add_video(app, creator, visibility=Visibility.draft)
    other_creator = make_user(app, role="creator")
    viewer = make_user(app, role="viewer")
    before = row(app, public_id)
    attempts = [("patch", f"/api/v1/videos/{public_id}"), ("post", f"/api/v1/videos/{public_id}/publish"),
                ("delete", f"/api/v1/videos/{public_id}")]
    for method, url in attempts:
        for headers, status, kind in [
            ({}, 401, "unauthorized"),
            (token_for(app, other_creator, "read", "upload", "manage"), 404, "not-found"),
            (token_for(app, creator, "read", "upload"), 403, "insufficient-scope"),
            (token_for(app, viewer, "read"), 403, "insufficient-scope"),
            ({"Authorization": "Bearer wmpat_forged"}, 401, "invalid-token"),
        ]:
            response = getattr(client, method)(url, json={"title": "Taken over"}, headers=headers)
            assert problem_of(response, status)["type"].endswith(f"#{kind}"), (method, url, headers)
    other_session = app.test_client()
    log_in(other_session, other_creator.handle)
    csrf = {"X-CSRFToken": csrf_token(other_session)}
    for method, url in attempts:
        response = getattr(other_session, method)(url, json={"title": "Taken over"}, headers=csrf)
        assert problem_of(response, 404)["detail"] == "No such video."
    viewer_session = app.test_client()
    log_in(viewer_session, viewer.handle)
    response = viewer_session.patch(attempts[0][1], json={"title": "x"}, headers={"X-CSRFToken": csrf_token(
        viewer_session)})
    assert problem_of(response, 403)["type"].endswith("#forbidden")
    assert row(app, public_id) == before and audit_events(app, public_id) == []


def test_publish_and_delete_by_token(app, client, creator):
    public_id = add_video(app, creator, visibility=Visibility.draft)
    manage = token_for(app, creator, "manage")
    response = client.post(f"/api/v1/videos/{public_id}/publish", headers=manage)
    assert response.status_code == 200 and response.get_json()["visibility"] == "published"
    assert public_id in {item["public_id"] for item in client.get("/api/v1/videos").get_json()["items"]}
    response = client.delete(f"/api/v1/videos/{public_id}", headers=manage)
    assert response.status_code == 204 and response.data == b""
    assert problem_of(client.get(f"/api/v1/videos/{public_id}"), 404)
    assert problem_of(client.delete(f"/api/v1/videos/{public_id}", headers=manage), 404)
    assert client.get("/api/v1/videos").get_json()["items"] == []
    assert audit_events(app, public_id) == ["content.published", "content.deleted"]


def test_a_failed_video_cannot_be_published_a_409(app, client, creator):
    public_id = add_video(app, creator, visibility=Visibility.draft, state=VideoState.failed,
                          failure_reason="Not a video.")
    manage = token_for(app, creator, "manage")
    assert problem_of(client.post(f"/api/v1/videos/{public_id}/publish", headers=manage), 409)["type"].endswith(
        "#conflict")
    assert problem_of(client.patch(f"/api/v1/videos/{public_id}", json={"visibility": "unlisted"}, headers=manage),
                      409)
    assert row(app, public_id)["visibility"] is Visibility.draft


# Status and channels

def test_status_says_state_progress_and_reason_to_the_owner_only(app, client, creator):
    read = token_for(app, creator, "read")
    with app.app_context():
        upload = upload_service.create(db.session.get(User, creator.id), 1000, {"filename": "clip.mp4"})
        upload.offset = 250
        uploading = upload.video.public_id
        db.session.commit()
    processing = add_video(app, creator, state=VideoState.processing, encode_progress=42, published_prefix=None)
    ready = add_video(app, creator)
    failed = add_video(app, creator, state=VideoState.failed, failure_reason="This is not a video.",
                       published_prefix=None)
    expected = {uploading: ("uploading", 25, None), processing: ("processing", 42, None), ready: ("ready", 100, None),
                failed: ("failed", 0, "This is not a video.")}
    for public_id, (state, progress, reason) in expected.items():
        body = client.get(f"/api/v1/videos/{public_id}/status", headers=read).get_json()
        assert body == {"public_id": public_id, "state": state, "progress": progress, "failure_reason": reason,
                        "watch_url": f"{app.config['WM_PUBLIC_URL']}/v/{public_id}"}
    stranger = token_for(app, make_user(app, role="creator"), "read")
    assert problem_of(client.get(f"/api/v1/videos/{ready}/status", headers=stranger), 404)
    assert problem_of(client.get(f"/api/v1/videos/{ready}/status"), 401)
    assert problem_of(client.get(f"/api/v1/videos/{ready}/status", headers=token_for(app, creator, "upload")), 403)


def test_a_channel_shows_its_first_page_and_continues_in_the_video_list(app, client, creator):
    videos = [add_video(app, creator, created_at=utcnow() - timedelta(seconds=i)) for i in range(5)]
    add_video(app, creator, visibility=Visibility.draft)
    add_video(app, make_user(app, role="creator"))
    body = client.get(f"/api/v1/channels/{creator.handle}?limit=2").get_json()
    assert body["handle"] == creator.handle and body["video_count"] == 5
    assert body["url"] == f"{app.config['WM_PUBLIC_URL']}/@{creator.handle}"
    assert [item["public_id"] for item in body["videos"]["items"]] == videos[:2]
    rest = client.get("/api/v1/videos", query_string={"channel": creator.handle, "limit": 10,
                                                      "cursor": body["videos"]["next_cursor"]}).get_json()
    assert [item["public_id"] for item in rest["items"]] == videos[2:] and rest["next_cursor"] is None
    assert problem_of(client.get("/api/v1/channels/nobody-here"), 404)


def test_absolute_urls_name_the_public_address_whatever_host_the_request_claims(app, client, creator):
    public_id = add_video(app, creator)
    body = client.get(f"/api/v1/videos/{public_id}", headers={"Host": "evil.example"}).get_json()
    public = app.config["WM_PUBLIC_URL"] + "/"
    urls = [body["url"], body["watch_url"], body["channel"]["url"], body["playback"]["hls"]]
    assert all(url.startswith(public) for url in urls), urls
    assert "evil.example" not in str(body)
