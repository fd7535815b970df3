"""Ingest and encode end to end in real RQ workers with real ffmpeg; outputs checked with ffprobe."""

from __future__ import annotations

import json
import subprocess
import time
from itertools import pairwise
from pathlib import Path

import pytest
from rq.scheduler import RQScheduler

from tests.fixtures.media import SAMPLE, make_broken, make_clip, publish_through_workers, stored_keys, upload_file
from tests.fixtures.users import make_user
from tests.fixtures.workers import kill_worker, make_scheduled_jobs_due, start_worker, worker_env
from wm.extensions import db, get_queue, redis_client
from wm.models.media import Video, VideoState
from wm.services.media import get_video


def ffprobe(path: Path, *args: str) -> dict:
    result = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", *args, str(path)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def duration(path: Path) -> float:
    return float(ffprobe(path, "-show_entries", "format=duration")["format"]["duration"])


def keyframe_times(playlist: Path) -> list[float]:
    times = []
    for segment in sorted(playlist.parent.glob("seg_*.ts")):
        packets = ffprobe(segment, "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags")["packets"]
        times += [round(float(p["pts_time"]), 2) for p in packets if "K" in p["flags"]]
    return times


def process(app, burst_worker) -> None:
    """Run the ingest (high queue), then the encode (encode queue), as the two workers would."""
    burst_worker("general")
    burst_worker("encode")


def video_row(app, public_id: str) -> Video:
    with app.app_context():
        video = get_video(public_id)
        db.session.expunge(video)
        return video


@pytest.mark.parametrize(
    ("kind", "rungs", "size"),
    [
        ("landscape", ["720p", "480p", "360p", "240p"], (1280, 720)),
        ("portrait", ["720p", "480p", "360p", "240p"], (720, 1280)),
        ("rotated", ["720p", "480p", "360p", "240p"], (720, 1280)),
        ("no_audio", ["360p", "240p"], (640, 360)),
        ("ten_bit", ["480p", "360p", "240p"], (854, 480)),
        ("vfr", ["360p", "240p"], (640, 360)),
        ("odd", ["360p", "240p"], (636, 360)),
        ("tiny", ["64p"], (96, 64)),
        ("scope", ["272p", "240p"], (640, 272)),  # between rungs: its own size on top, then 240p
    ],
)
def test_sources_of_every_shape_encode_to_an_aligned_ladder(app, burst_worker, clip_dir, storage_root, kind, rungs,
                                                            size):
    creator = make_user(app, role="creator")
    # 8 s under x264's default GOP of 250 frames: one keyframe, too sparse to copy, so every shape is encoded
    source = make_clip(clip_dir, kind, 8)
    public_id = upload_file(app, creator, source)
    process(app, burst_worker)
    video = video_row(app, public_id)
    assert video.state is VideoState.ready, video.failure_reason
    assert [r["name"] for r in video.renditions] == rungs
    published = storage_root / video.published_prefix
    master = (published / "master.m3u8").read_text()
    for rung in rungs:
        assert f"{rung}/index.m3u8" in master
    for attribute in ("BANDWIDTH=", "AVERAGE-BANDWIDTH=", "RESOLUTION=", "CODECS=\"avc1.", "FRAME-RATE="):
        assert attribute in master
    top = published / rungs[0] / "index.m3u8"
    assert (video.renditions[0]["width"], video.renditions[0]["height"]) == size
    stream = ffprobe(published / rungs[0] / "seg_00000.ts", "-show_streams", "-select_streams", "v:0")["streams"][0]
    assert (stream["codec_name"], stream["pix_fmt"]) == ("h264", "yuv420p")
    assert (stream["width"], stream["height"]) == size
    source_duration = duration(source)
    assert abs(duration(published / "video.mp4") - source_duration) <= 0.1
    aligned = {rung: keyframe_times(published / rung / "index.m3u8") for rung in rungs}
    assert len({tuple(times) for times in aligned.values()}) == 1, aligned
    times = aligned[rungs[0]]
    assert all(abs((b - a) - 2.0) < 0.05 for a, b in pairwise(times)), times
    assert "#EXT-X-TARGETDURATION:4" in top.read_text() or "#EXT-X-TARGETDURATION:5" in top.read_text()
    assert (published / "poster.jpg").stat().st_size > 0
    assert "#xywh=" in (published / "storyboard" / "storyboard.vtt").read_text()
    head = (published / "video.mp4").read_bytes()[:4096]
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))
    assert not [k for k in stored_keys(storage_root) if k.startswith(("raw/", "processing/"))]


def test_audio_only_upload_becomes_an_audio_rendition_with_a_poster(app, burst_worker, clip_dir, storage_root):
    creator = make_user(app, role="creator")
    public_id = upload_file(app, creator, make_clip(clip_dir, "audio_only"))
    process(app, burst_worker)
    video = video_row(app, public_id)
    assert video.state is VideoState.ready and video.audio_only
    published = storage_root / video.published_prefix
    assert [r["name"] for r in video.renditions] == ["audio"]
    assert "audio/index.m3u8" in (published / "master.m3u8").read_text()
    assert (published / "poster.jpg").stat().st_size > 0
    assert abs(duration(published / "audio.m4a") - duration(make_clip(clip_dir, "audio_only"))) <= 0.1


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("text", "not a video or audio file we can read"),
        ("empty", "The file is empty."),
        ("truncated", "The file is incomplete"),
    ],
)
def test_broken_uploads_are_refused_with_a_plain_reason_and_leave_nothing(app, burst_worker, clip_dir, storage_root,
                                                                        kind, reason):
    creator = make_user(app, role="creator")
    public_id = upload_file(app, creator, make_broken(clip_dir, kind))
    process(app, burst_worker)
    video = video_row(app, public_id)
    assert video.state is VideoState.failed
    assert reason in video.failure_reason
    assert stored_keys(storage_root) == []
    assert list((Path(app.config["WM_VAR_DIR"]) / "uploads").iterdir()) == []


def test_sources_over_the_limits_are_refused(app, burst_worker, clip_dir):
    creator = make_user(app, role="creator")
    app.config["WM_MAX_SOURCE_PIXELS"] = "640x640"
    try:
        public_id = upload_file(app, creator, make_clip(clip_dir, "landscape"))
        process(app, burst_worker)
    finally:
        app.config["WM_MAX_SOURCE_PIXELS"] = "4096x4096"
    video = video_row(app, public_id)
    assert video.state is VideoState.failed
    assert video.failure_reason == "The video is 1280x720; the largest we take is 640x640."


def test_an_encode_killed_mid_way_is_picked_up_again_without_leftovers(app, mysql_url, burst_worker, clip_dir,
                                                                      storage_root):
    creator = make_user(app, role="creator")
    public_id = upload_file(app, creator, make_clip(clip_dir, "no_audio", 20))
    burst_worker("general")
    worker = start_worker(worker_env(app, mysql_url, WM_ENCODE_PRESET="slow"), "encode")
    try:
        deadline = time.monotonic() + 120  # a busy machine takes a while to start a slow encode
        while video_row(app, public_id).encode_progress < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert video_row(app, public_id).encode_progress >= 1
    finally:
        kill_worker(worker)
    deadline = time.monotonic() + 10  # the kernel delivers the parent-death signal to ffmpeg right away
    while ffmpeg_running_for(public_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not ffmpeg_running_for(public_id), "ffmpeg outlived its killed worker"
    with app.app_context():
        queue = get_queue("encode")
        queue.started_job_registry.cleanup(timestamp=time.time() + 3600)  # as maintenance does once heartbeats lapse
        redis_client.delete(RQScheduler.get_locking_key("encode"))  # the dead worker's scheduler lock, expired
        assert queue.scheduled_job_registry.count == 1
        assert make_scheduled_jobs_due("encode") == 1  # the retry's backoff, over
    burst_worker("encode", with_scheduler=True)
    video = video_row(app, public_id)
    assert video.state is VideoState.ready and video.published_prefix == f"published/{public_id}/v2/"
    keys = stored_keys(storage_root)
    assert keys and all(key.startswith(f"published/{public_id}/v2/") for key in keys), keys
    assert list((Path(app.config["WM_VAR_DIR"]) / "work").iterdir()) == []


def ffmpeg_running_for(public_id: str) -> bool:
    return bool(subprocess.run(["pgrep", "-f", f"work/{public_id}"], capture_output=True, text=True).stdout)


def decoded_md5(path: Path) -> str:
    result = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "md5", "-"],
                            capture_output=True, text=True, check=True)
    return result.stdout.strip()


def sample_looped_twice(folder: Path) -> Path:
    """The demo video (H.264 1.2 Mbit/s, one keyframe per 5.3 s loop) played twice, by stream copy."""
    path = folder / "sample-twice.mp4"
    if not path.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "1", "-i", str(SAMPLE), "-c", "copy", str(path)],
                       check=True)
    return path


@pytest.mark.parametrize("kind", ["phone", "sample"])
def test_a_source_that_already_qualifies_is_stream_copied_as_the_top_rung(app, burst_worker, clip_dir, storage_root,
                                                                          kind):
    creator = make_user(app, role="creator")
    source = make_clip(clip_dir, "phone", 10) if kind == "phone" else sample_looped_twice(clip_dir)
    public_id = upload_file(app, creator, source)
    process(app, burst_worker)
    video = video_row(app, public_id)
    assert video.state is VideoState.ready
    published = storage_root / video.published_prefix
    assert decoded_md5(published / "720p" / "index.m3u8") == decoded_md5(source), "720p should be the source as is"
    assert decoded_md5(published / "480p" / "index.m3u8") != decoded_md5(source)
    aligned = {rung: keyframe_times(published / rung / "index.m3u8") for rung in ("720p", "480p", "360p", "240p")}
    assert len({tuple(times) for times in aligned.values()}) == 1, aligned


def test_a_source_with_long_gops_is_encoded_not_copied(app, burst_worker, clip_dir, storage_root):
    creator = make_user(app, role="creator")
    source = make_clip(clip_dir, "landscape", 10)
    public_id = upload_file(app, creator, source)
    process(app, burst_worker)
    published = storage_root / video_row(app, public_id).published_prefix
    assert decoded_md5(published / "720p" / "index.m3u8") != decoded_md5(source)


def test_the_whole_pipeline_on_sqlite(sqlite_app, clip_dir):
    """Upload, ingest, encode, publish and play on the embedded SQLite database (forked work horses too)."""
    _, public_id = publish_through_workers(sqlite_app, make_clip(clip_dir, "landscape"))
    client = sqlite_app.test_client()
    playlist = client.get(f"/v/{public_id}/hls/720p/index.m3u8").get_data(as_text=True)
    segment = next(line for line in playlist.splitlines() if line.startswith("/m/"))
    assert client.get(segment).status_code == 200
