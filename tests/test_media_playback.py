"""Playback: the watch page, per-viewer playlists, signed media URLs, the premium preview, through Flask and nginx."""

from __future__ import annotations

import re
import time

import pytest
import requests

from tests.fixtures.apps import REDIS_URL
from tests.fixtures.edge import edge_stack
from tests.fixtures.media import make_clip, publish_clip
from tests.fixtures.users import log_in, make_user
from wm.extensions import db
from wm.models.media import AccessTier, Visibility
from wm.services.media import get_video
from wm.services.media.playback import signature

PREVIEW = 4


@pytest.fixture
def published(app, clip_dir):
    """A creator and their 12-second video, encoded and published (free tier)."""
    creator, public_id = publish_clip(app, make_clip(clip_dir, "landscape", 12))
    app.config["WM_PREVIEW_SECONDS"] = PREVIEW
    yield creator, public_id
    app.config["WM_PREVIEW_SECONDS"] = 60


def set_video(app, public_id: str, **fields) -> None:
    with app.app_context():
        video = get_video(public_id)
        for name, value in fields.items():
            setattr(video, name, value)
        db.session.commit()


def segment_urls(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


def seconds_listed(playlist: str) -> float:
    return sum(float(m) for m in re.findall(r"#EXTINF:([\d.]+)", playlist))


def test_watch_page_offers_hls_mp4_and_poster(client, published):
    _, public_id = published
    html = client.get(f"/v/{public_id}").get_data(as_text=True)
    assert f'data-hls="/v/{public_id}/hls/master.m3u8"' in html
    assert re.search(r'data-mp4="/m/published/[^"]+/video\.mp4\?md5=[\w-]+&amp;expires=\d+"', html)
    assert re.search(r'poster="/m/published/[^"]+/poster\.jpg\?md5=', html)
    assert "hls.min.js" in html


def test_private_and_draft_videos_are_for_their_owner(app, client, published):
    creator, public_id = published
    for visibility in (Visibility.private, Visibility.draft):
        set_video(app, public_id, visibility=visibility)
        assert client.get(f"/v/{public_id}").status_code == 404
        assert client.get(f"/v/{public_id}/hls/master.m3u8").status_code == 404
    owner = app.test_client()
    log_in(owner, creator.handle)
    assert owner.get(f"/v/{public_id}").status_code == 200
    set_video(app, public_id, visibility=Visibility.unlisted)
    assert client.get(f"/v/{public_id}").status_code == 200


def test_playlists_carry_signed_urls_that_the_app_serves(client, published):
    _, public_id = published
    master = client.get(f"/v/{public_id}/hls/master.m3u8")
    assert master.mimetype == "application/vnd.apple.mpegurl" and "BANDWIDTH=" in master.get_data(as_text=True)
    playlist = client.get(f"/v/{public_id}/hls/720p/index.m3u8").get_data(as_text=True)
    urls = segment_urls(playlist)
    assert len(urls) == 3 and all("md5=" in url and "expires=" in url for url in urls)
    segment = client.get(urls[0])
    assert segment.status_code == 200 and len(segment.data) > 1000
    assert client.get(urls[0].split("?")[0]).status_code == 403
    assert client.get(urls[0].replace("md5=", "md5=x")).status_code == 403
    assert client.get(f"/v/{public_id}/hls/9999p/index.m3u8").status_code == 404
    vtt = client.get(f"/v/{public_id}/storyboard.vtt").get_data(as_text=True)
    sheet = re.search(r"(/m/\S+sb_001\.jpg\S*)#xywh=", vtt).group(1)
    assert client.get(sheet).status_code == 200


def test_expired_media_urls_are_refused(client, published, app):
    _, public_id = published
    playlist = client.get(f"/v/{public_id}/hls/720p/index.m3u8").get_data(as_text=True)
    path = segment_urls(playlist)[0].split("?")[0]
    expired = int(time.time()) - 10
    with app.app_context():
        url = f"{path}?md5={signature(path, expired)}&expires={expired}"
    assert client.get(url).status_code == 410


@pytest.mark.parametrize("expires", ["\u00b2", "\u0661\u0662", "1\u00b2", str(2**63), "9" * 400, "-5", ""])
def test_hostile_expiries_are_refused_not_crashed_on(client, published, expires):
    _, public_id = published
    playlist = client.get(f"/v/{public_id}/hls/720p/index.m3u8").get_data(as_text=True)
    url = segment_urls(playlist)[0]
    response = client.get(url.split("expires=")[0] + "expires=" + expires)
    assert response.status_code == 403


@pytest.mark.parametrize("public_id", ["9" * 30, str(2**64), "\u00b2\u00b3", "-1"])
def test_video_ids_that_are_huge_or_odd_numbers_are_not_found(client, public_id):
    for path in ("", "/hls/master.m3u8", "/hls/720p/index.m3u8", "/storyboard.vtt"):
        assert client.get(f"/v/{public_id}{path}").status_code == 404


def test_range_requests_answer_206(client, published):
    _, public_id = published
    html = client.get(f"/v/{public_id}").get_data(as_text=True)
    mp4 = re.search(r'data-mp4="([^"]+)"', html).group(1).replace("&amp;", "&")
    response = client.get(mp4, headers={"Range": "bytes=0-99"})
    assert response.status_code == 206 and len(response.data) == 100
    assert response.headers["Content-Range"].startswith("bytes 0-99/")


def test_pro_videos_play_a_server_enforced_preview_for_others(app, client, published):
    _, public_id = published
    set_video(app, public_id, access_tier=AccessTier.pro)
    preview = client.get(f"/v/{public_id}/hls/720p/index.m3u8").get_data(as_text=True)
    assert seconds_listed(preview) <= PREVIEW + 0.5 and "#EXT-X-ENDLIST" in preview
    assert len(segment_urls(preview)) == 1
    page = client.get(f"/v/{public_id}").get_data(as_text=True)
    assert "you are watching the first 4 seconds" in page and "data-mp4" not in page
    member = make_user(app, role="viewer", tier="pro")
    pro_client = app.test_client()
    log_in(pro_client, member.handle)
    whole = pro_client.get(f"/v/{public_id}/hls/720p/index.m3u8").get_data(as_text=True)
    assert seconds_listed(whole) >= 11.9 and len(segment_urls(whole)) == 3
    assert "data-mp4" in pro_client.get(f"/v/{public_id}").get_data(as_text=True)


def test_the_storyboard_of_a_pro_video_shows_others_nothing_past_the_preview(app, client, published):
    _, public_id = published
    set_video(app, public_id, access_tier=AccessTier.pro)
    # 12 s at a tile per 2 s: all six tiles share sheet 1, which shows 4 s to 12 s too, so it is not signed
    preview = client.get(f"/v/{public_id}/storyboard.vtt").get_data(as_text=True)
    assert preview.startswith("WEBVTT") and "#xywh=" not in preview and "/m/" not in preview
    member = make_user(app, role="viewer", tier="pro")
    pro_client = app.test_client()
    log_in(pro_client, member.handle)
    whole = pro_client.get(f"/v/{public_id}/storyboard.vtt").get_data(as_text=True)
    assert whole.count("#xywh=") == 6 and "00:00:10.000 --> 00:00:12.000" in whole
    sheet = re.search(r"(/m/\S+sb_001\.jpg\S*)#xywh=", whole).group(1)
    assert pro_client.get(sheet).status_code == 200
    app.config["WM_PREVIEW_SECONDS"] = 60  # a preview longer than the video covers every tile
    assert client.get(f"/v/{public_id}/storyboard.vtt").get_data(as_text=True).count("#xywh=") == 6


def test_an_audio_only_video_has_no_storyboard(app, client, clip_dir):
    _, public_id = publish_clip(app, make_clip(clip_dir, "audio_only"))
    assert client.get(f"/v/{public_id}/storyboard.vtt").status_code == 404


@pytest.mark.edge
def test_nginx_serves_signed_media_and_refuses_the_rest(app, mysql_url, tmp_path, published):
    _, public_id = published
    env = {"WM_SECRET_KEY": app.config["SECRET_KEY"], "WM_STORAGE_URL": app.config["WM_STORAGE_URL"],
           "WM_PREVIEW_SECONDS": str(PREVIEW)}
    with edge_stack(mysql_url, REDIS_URL, tmp_path, env_overrides=env) as stack:
        playlist = requests.get(f"{stack.edge}/v/{public_id}/hls/720p/index.m3u8").text
        url = stack.edge + segment_urls(playlist)[0]
        signed = requests.get(url)
        assert signed.status_code == 200 and signed.headers["Content-Type"] == "video/mp2t"
        assert "gunicorn" not in signed.headers.get("Server", "")
        assert requests.get(url.split("?")[0]).status_code == 403
        path = url.split("?")[0].removeprefix(stack.edge)
        expired = int(time.time()) - 10
        with app.app_context():
            stale = f"{stack.edge}{path}?md5={signature(path, expired)}&expires={expired}"
        assert requests.get(stale).status_code == 410
        ranged = requests.get(url, headers={"Range": "bytes=10-19"})
        assert ranged.status_code == 206 and len(ranged.content) == 10
        set_video(app, public_id, access_tier=AccessTier.pro)
        preview = requests.get(f"{stack.edge}/v/{public_id}/hls/720p/index.m3u8").text
        assert len(segment_urls(preview)) == 1 and seconds_listed(preview) <= PREVIEW + 0.5


def test_published_videos_appear_on_the_feed_and_the_profile(app, client, published):
    creator, public_id = published
    for page in ("/", f"/@{creator.handle}"):
        html = client.get(page).get_data(as_text=True)
        assert f'href="/v/{public_id}"' in html and "/poster.jpg?md5=" in html
    set_video(app, public_id, visibility=Visibility.unlisted)
    assert f'href="/v/{public_id}"' not in client.get("/").get_data(as_text=True)
