"""Ingest refuses what is not plain media: files that name other files, and files that lie about their length."""

from __future__ import annotations

import dataclasses
import re
import struct
import subprocess
import time
from pathlib import Path

import pytest

from tests.fixtures.media import make_clip, publish_clip, stored_keys, upload_file
from tests.fixtures.users import make_user
from wm.extensions import db
from wm.models.accounts import User
from wm.models.media import Video, VideoState
from wm.services.media import delete_video, get_video, pipeline
from wm.services.media import encode as encoder
from wm.services.media import probe as probe_module
from wm.services.media.probe import InvalidMedia, probe


def video_row(app, public_id: str) -> Video:
    with app.app_context():
        video = get_video(public_id, include_deleted=True)
        db.session.expunge(video)
        return video


def ingest(app, burst_worker, folder: Path, name: str, content: bytes) -> Video:
    """A new creator uploads ``content`` as ``name``; the workers take it as far as they will."""
    path = folder / name
    path.write_bytes(content)
    public_id = upload_file(app, make_user(app, role="creator"), path)
    burst_worker("general")
    burst_worker("encode")
    return video_row(app, public_id)


@pytest.fixture
def victim(app, clip_dir, storage_root) -> tuple[str, list[str]]:
    """Another creator's published video: its public id and the storage keys of its segments."""
    _, public_id = publish_clip(app, make_clip(clip_dir, "landscape", 12))
    segments = [k for k in stored_keys(storage_root) if k.endswith(".ts") and "/240p/" in k]
    return public_id, segments


PADDING = b"".join(b"# " + b"x" * 1000 + b"\n" for _ in range(1100))  # ~1 MB of comments beat the old size check


def assert_refused_and_nothing_published(app, video: Video, storage_root: Path, victim_id: str, reason: str) -> None:
    assert video.state is VideoState.failed
    assert reason in video.failure_reason
    with app.app_context():
        ready = [v.public_id for v in db.session.query(Video).filter(Video.state == VideoState.ready)]
    assert ready == [victim_id]
    assert all(key.startswith(f"published/{victim_id}/") for key in stored_keys(storage_root))


def test_an_hls_playlist_naming_another_video_s_segments_is_refused(app, burst_worker, tmp_path, storage_root,
                                                                   victim):
    victim_id, segments = victim
    # The source lands in var/uploads/<id>.source, so the attacker climbs from there into the storage folder.
    lines = [b"#EXTM3U", b"#EXT-X-TARGETDURATION:4", b"#EXT-X-PLAYLIST-TYPE:VOD", PADDING]
    for key in segments:
        lines += [b"#EXTINF:4.0,", b"../storage/" + key.encode()]
    video = ingest(app, burst_worker, tmp_path, "stolen.m3u8", b"\n".join([*lines, b"#EXT-X-ENDLIST", b""]))
    assert_refused_and_nothing_published(app, video, storage_root, victim_id, "This is a playlist (M3U/HLS)")


def test_a_concat_list_naming_another_video_s_segments_is_refused(app, burst_worker, tmp_path, storage_root, victim):
    victim_id, segments = victim
    script = b"ffconcat version 1.0\n" + b"".join(b"file '../storage/" + k.encode() + b"'\n" for k in segments)
    video = ingest(app, burst_worker, tmp_path, "stolen.ffconcat", script)
    assert_refused_and_nothing_published(app, video, storage_root, victim_id, "This is an ffmpeg concat list")


@pytest.mark.parametrize("prefix", ["file:", ""])
def test_a_playlist_with_absolute_file_references_is_refused(app, burst_worker, tmp_path, storage_root, victim,
                                                             prefix):
    victim_id, segments = victim
    lines = [b"#EXTM3U", b"#EXT-X-TARGETDURATION:4"]
    for key in segments:
        lines += [b"#EXTINF:4.0,", (prefix + str(storage_root / key)).encode()]
    video = ingest(app, burst_worker, tmp_path, "stolen.m3u8", b"\n".join([*lines, b"#EXT-X-ENDLIST", b""]))
    assert_refused_and_nothing_published(app, video, storage_root, victim_id, "This is a playlist (M3U/HLS)")


def test_past_the_first_bytes_check_no_demuxer_that_follows_references_runs(app, tmp_path, storage_root, victim,
                                                                            monkeypatch):
    """The container whitelist, not the friendly first-bytes check, is what keeps playlists from being opened."""
    _, segments = victim
    playlist = tmp_path / "stolen.m3u8"
    playlist.write_bytes(b"\n".join([b"#EXTM3U", b"#EXTINF:4.0,", str(storage_root / segments[0]).encode(), b""]))
    monkeypatch.setattr(probe_module, "REFERENCE_FILES", ())
    with pytest.raises(InvalidMedia, match="not a video or audio file we can read"):
        probe(playlist)


def lying_matroska(folder: Path, holds: int, says: int) -> Path:
    """A Matroska file holding ``holds`` seconds whose header (Duration element and tags) says ``says`` seconds."""
    path = folder / f"lying-{holds}-{says}.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=black:size=160x90:rate=10",
                    "-t", str(holds), "-c:v", "libx264", "-preset", "ultrafast", str(path)], check=True)
    data = bytearray(path.read_bytes())
    duration = data.find(b"\x44\x89\x88")  # Segment Info > Duration, an 8-byte float in milliseconds
    data[duration + 3:duration + 11] = struct.pack(">d", says * 1000.0)
    told = time.strftime("%H:%M:%S", time.gmtime(holds)).encode()
    data = data.replace(told + b".000000000", time.strftime("%H:%M:%S", time.gmtime(says)).encode() + b".000000000")
    path.write_bytes(bytes(data))
    return path


def test_a_file_holding_far_more_than_its_header_declares_is_refused(app, burst_worker, tmp_path, storage_root):
    source = lying_matroska(tmp_path, holds=120, says=5)
    video = ingest(app, burst_worker, tmp_path, "short.mkv", source.read_bytes())
    assert video.state is VideoState.failed
    assert video.failure_reason == ("The file says it is 5 seconds long but holds 120 seconds of media. "
                                    "Export it again.")
    assert stored_keys(storage_root) == []


def restarting_stream(folder: Path, muxer: str, suffix: str, copies: int, seconds: int = 5) -> Path:
    """A clip of ``seconds`` muxed as ``muxer``, repeated ``copies`` times in one file: its timestamps restart, so
    its header (and the span of its timestamps) says ``seconds`` while ffmpeg, stitching the restarts, plays all."""
    segment = folder / f"segment.{suffix}"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=s=320x240:r=25:d={seconds}",
                    "-f", "lavfi", "-i", f"sine=d={seconds}", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
                    "-c:a", "aac" if muxer == "mpegts" else "mp2", "-f", muxer, str(segment)], check=True)
    path = folder / f"restarting.{suffix}"
    path.write_bytes(segment.read_bytes() * copies)
    return path


@pytest.mark.parametrize(("muxer", "suffix"), [("mpegts", "ts"), ("mpeg", "mpg")])
def test_a_stream_whose_timestamps_restart_cannot_hide_its_length(app, burst_worker, tmp_path, storage_root, muxer,
                                                                  suffix):
    source = restarting_stream(tmp_path, muxer, suffix, copies=24)
    video = ingest(app, burst_worker, tmp_path, f"short.{suffix}", source.read_bytes())
    assert video.state is VideoState.failed
    assert re.fullmatch(r"The file says it is 5 seconds long but holds 12[01] seconds of media\. Export it again\.",
                        video.failure_reason)
    with app.app_context():
        assert db.session.query(Video).filter(Video.state == VideoState.ready).count() == 0
    assert stored_keys(storage_root) == []


def test_a_stream_restarting_within_the_slack_is_stored_with_the_length_it_holds(app, tmp_path):
    source = restarting_stream(tmp_path, "mpegts", "ts", copies=2, seconds=3)  # 6 s, within 3 s x 1.5 + 2 s
    assert probe(source).duration == pytest.approx(6, abs=0.2)


def test_the_encode_stops_soon_after_the_length_the_probe_measured(tmp_path, clip_dir):
    source = make_clip(clip_dir, "no_audio", 12)
    measured_short = dataclasses.replace(probe(source), duration=2)  # as if the decoder found more than the packets
    plan = encoder.build_plan(source, tmp_path / "out", measured_short, "ultrafast", 30)
    encoder.run(plan)
    result = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                             str(tmp_path / "out" / "360p" / "index.m3u8")], capture_output=True, text=True)
    assert float(result.stdout) <= 2 * probe_module.DURATION_SLACK_FACTOR + probe_module.DURATION_SLACK_SECONDS + 0.1


def test_the_encode_reads_no_more_than_the_longest_source_allowed(tmp_path, clip_dir):
    source = make_clip(clip_dir, "no_audio", 12)
    plan = encoder.build_plan(source, tmp_path / "out", probe(source), "ultrafast", 30, max_seconds=3)
    encoder.run(plan)
    result = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                             str(tmp_path / "out" / "360p" / "index.m3u8")], capture_output=True, text=True)
    assert float(result.stdout) <= 3.1


def ffmpeg_running_for(public_id: str) -> bool:
    return bool(subprocess.run(["pgrep", "-f", f"work/{public_id}"], capture_output=True, text=True).stdout)


def test_deleting_a_video_stops_its_running_encode(app, burst_worker, clip_dir, storage_root):
    creator = make_user(app, role="creator")
    public_id = upload_file(app, creator, make_clip(clip_dir, "no_audio", 20))
    burst_worker("general")
    seen = {}

    def delete_at_first_progress(percent: int) -> None:
        """The creator deletes the video while ffmpeg is at ``percent``% (the studio's delete, committed)."""
        if not seen:
            seen["running"] = ffmpeg_running_for(public_id)
            delete_video(db.session.get(User, creator.id), public_id)

    with app.app_context():
        result = pipeline.encode(video_row(app, public_id).id, delete_at_first_progress)
    assert seen["running"] and result == "deleted"
    assert not ffmpeg_running_for(public_id)
    video = video_row(app, public_id)
    assert video.state is VideoState.processing and video.published_prefix is None and video.encode_progress < 99
    assert not [k for k in stored_keys(storage_root) if k.startswith(("processing/", "published/"))]
    assert not (Path(app.config["WM_VAR_DIR"]) / "work" / public_id).exists()
