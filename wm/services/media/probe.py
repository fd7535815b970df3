"""Reading sources with ffprobe, and refusing the ones we cannot or will not encode."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from wm.services import DomainError

# The demuxers of real containers, the only ones ffprobe and ffmpeg may pick for an upload. Left out on
# purpose: playlists and manifests (hls, dash), concat lists, image sequences, subtitle and text formats,
# tty, lavfi and the like, because they open other files named inside the upload (another video's
# segments, say) or make a "video" out of text.
DEMUXERS = ("mov", "matroska", "mpegts", "avi", "flv", "ogg", "wav", "mp3", "flac", "aac", "asf", "mpeg", "aiff")
# A file may hold this much more media than its header declares (estimates from VBR bit rates are
# rough) before we call the header a lie: the declared length decides limits and the worker's time.
DURATION_SLACK_FACTOR = 1.5
DURATION_SLACK_SECONDS = 2.0
# A step between two packets' timestamps longer than this is a discontinuity, not time that passes: ffmpeg's
# default -dts_delta_threshold for containers like MPEG-TS, whose timestamps may restart or jump.
DISCONTINUITY_SECONDS = 10.0
# Packets overstate a length by their framing (an AAC frame padded past the end, say): this close to the
# header's length, the header's figure is the one kept.
FRAMING_SECONDS = 0.5
# What the first bytes of text uploads that ffmpeg would read as a list of other files look like.
REFERENCE_FILES = (
    (b"#EXTM3U", "This is a playlist (M3U/HLS), not a video: it only names other files. Upload the video file "
                 "itself."),
    (b"ffconcat", "This is an ffmpeg concat list, not a video: it only names other files. Upload the video file "
                  "itself."),
    (b"file ", "This is a list of file names, not a video. Upload the video file itself."),
    (b"<?xml", "This is an XML document (a manifest or playlist), not a video. Upload the video file itself."),
    (b"<MPD", "This is a DASH manifest, not a video: it only names other files. Upload the video file itself."),
)


class InvalidMedia(DomainError):
    """The upload is not media we accept; ``message`` is the plain reason the creator sees."""

    status = 422


@dataclass(frozen=True)
class SourceInfo:
    duration: float
    has_video: bool
    has_audio: bool
    width: int = 0  # as displayed, after rotation
    height: int = 0
    fps: float = 0.0
    video_codec: str = ""
    pix_fmt: str = ""
    profile: str = ""
    audio_codec: str = ""
    video_bit_rate: int = 0
    audio_bit_rate: int = 0
    rotation: int = 0
    attached_picture: bool = False
    demuxer: str = "mov"  # the container ffprobe found, from DEMUXERS: every later ffmpeg run is held to it

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)


def source_url(path: Path) -> str:
    """``path`` as an ffmpeg input URL that can only mean a local file (never ``http:``, ``concat:``...)."""
    return f"file:{path.resolve()}"


def input_args(demuxer: str) -> list[str]:
    """Input options that open a source only as ``demuxer`` and only from the local file named (no other URLs)."""
    return ["-f", demuxer, "-format_whitelist", demuxer, "-protocol_whitelist", "file"]


def _ffprobe(args: list[str], timeout: int = 120) -> tuple[int, str, str]:
    result = subprocess.run(["ffprobe", "-v", "error", *args], capture_output=True, text=True, timeout=timeout)
    return result.returncode, result.stdout, result.stderr


def _rotation(stream: dict) -> int:
    for side in stream.get("side_data_list", []):
        if "rotation" in side:
            return int(side["rotation"]) % 360
    return int(stream.get("tags", {}).get("rotate", 0) or 0) % 360


def _fps(stream: dict) -> float:
    for field in ("avg_frame_rate", "r_frame_rate"):
        value = stream.get(field, "0/0")
        num, _, den = value.partition("/")
        if den and int(den) and int(num):
            return float(Fraction(int(num), int(den)))
    return 0.0


def probe(path: Path) -> SourceInfo:
    """What ffprobe sees in ``path``; ``InvalidMedia`` if it is not readable media."""
    if not path.exists() or path.stat().st_size == 0:
        raise InvalidMedia("The file is empty.")
    _refuse_reference_files(path)
    code, out, err = _ffprobe(["-format_whitelist", ",".join(DEMUXERS), "-protocol_whitelist", "file",
                               "-print_format", "json", "-show_format", "-show_streams", source_url(path)])
    if code != 0:
        if "moov atom not found" in err:
            raise InvalidMedia("The file is incomplete: it ends before its index (moov atom). Upload it again.")
        raise InvalidMedia("This is not a video or audio file we can read.")
    data = json.loads(out or "{}")
    demuxer = str(data.get("format", {}).get("format_name", "")).split(",")[0]
    if demuxer not in DEMUXERS:  # the whitelist already saw to it; this keeps a wrong name out of later commands
        raise InvalidMedia("This is not a video or audio file we can read.")
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not s.get("disposition", {}).get("attached_pic")), None)
    cover = next((s for s in streams if s.get("codec_type") == "video"
                  and s.get("disposition", {}).get("attached_pic")), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        raise InvalidMedia("The file has neither video nor audio.")
    duration = float(data.get("format", {}).get("duration") or (video or audio or {}).get("duration") or 0)
    if duration <= 0:
        raise InvalidMedia("The file has no playable duration.")
    info = SourceInfo(duration=duration, has_video=video is not None, has_audio=audio is not None, demuxer=demuxer,
                      audio_codec=(audio or {}).get("codec_name", ""),
                      audio_bit_rate=int((audio or {}).get("bit_rate") or 0), attached_picture=cover is not None)
    if video is not None:
        rotation = _rotation(video)
        width, height = int(video.get("width", 0)), int(video.get("height", 0))
        if rotation in (90, 270):
            width, height = height, width
        if not (width and height):
            raise InvalidMedia("The video stream has no picture size.")
        info = SourceInfo(**{**info.__dict__, "width": width, "height": height, "fps": _fps(video),
                             "video_codec": video.get("codec_name", ""), "pix_fmt": video.get("pix_fmt", ""),
                             "profile": video.get("profile", ""), "video_bit_rate": int(video.get("bit_rate") or 0),
                             "rotation": rotation})
    # Limits, the stored length and the encode's cut-off go by what the packets hold, not the header alone.
    held = _check_packets(path, demuxer, duration)
    return SourceInfo(**{**info.__dict__, "duration": held if held > duration + FRAMING_SECONDS else duration})


def _refuse_reference_files(path: Path) -> None:
    """Refuse text files that only name other files, with a reason that says what they are."""
    with path.open("rb") as file:
        head = file.read(64).removeprefix(b"\xef\xbb\xbf").lstrip()
    for signature, reason in REFERENCE_FILES:
        if head.startswith(signature):
            raise InvalidMedia(reason)


def _check_packets(path: Path, demuxer: str, declared: float) -> float:
    """Refuse files whose index points past their end (a faststart MP4 cut short, say), or that hold far more
    media than their header declares (a "5 s" Matroska file with 2 hours inside, or a "5 s" MPEG-TS whose
    timestamps restart every 5 s); return the seconds of media the longest audio or video stream holds.

    This demuxes every packet without decoding: disk speed, a few seconds for gigabytes.
    """
    fields = "packet=codec_type,stream_index,pts_time,dts_time,duration_time,size,pos"
    _, out, err = _ffprobe([*input_args(demuxer), "-show_entries", fields, "-of", "compact=p=0", source_url(path)],
                           timeout=1800)
    size, end, streams = path.stat().st_size, 0, {}
    for line in out.splitlines():
        packet = dict(field.partition("=")[::2] for field in line.split("|"))
        if packet.get("pos", "").isdigit() and packet.get("size", "").isdigit():
            end = max(end, int(packet["pos"]) + int(packet["size"]))
        if packet.get("codec_type") in ("video", "audio"):
            streams.setdefault(packet.get("stream_index"), _StreamLength()).add(
                _seconds(packet.get("pts_time")), _seconds(packet.get("dts_time")),
                _seconds(packet.get("duration_time")) or 0.0)
    if "partial file" in err or end > size:
        raise InvalidMedia("The file is incomplete: its data stops before its end. Upload it again.")
    held = max((stream.seconds for stream in streams.values()), default=0.0)
    if held > declared * DURATION_SLACK_FACTOR + DURATION_SLACK_SECONDS:
        raise InvalidMedia(f"The file says it is {declared:.0f} seconds long but holds {held:.0f} seconds of media. "
                           "Export it again.")
    return held


class _StreamLength:
    """How long one stream plays, from its packets in file order.

    Two measures, the larger wins: the span its timestamps cover (a gap in them is played as a still picture),
    and the sum of each packet's time until the next one, where a timestamp that goes back or leaps ahead
    (a restart or a discontinuity, which ffmpeg stitches together) counts only the packet's own duration.
    """

    def __init__(self) -> None:
        self.first: float | None = None
        self.last = 0.0
        self.summed = 0.0
        self.previous: tuple[float | None, float] | None = None  # (dts, duration) of the packet before

    def add(self, pts: float | None, dts: float | None, duration: float) -> None:
        """Count one packet."""
        start = pts if pts is not None else dts
        if start is not None:
            self.first = start if self.first is None else min(self.first, start)
            self.last = max(self.last, start + duration)
        if self.previous is not None:
            previous_dts, previous_duration = self.previous
            step = dts - previous_dts if dts is not None and previous_dts is not None else None
            self.summed += step if step is not None and 0 < step <= DISCONTINUITY_SECONDS else previous_duration
        self.previous = (dts, duration)

    @property
    def seconds(self) -> float:
        span = self.last - self.first if self.first is not None else 0.0
        return max(span, self.summed + (self.previous[1] if self.previous else 0.0))


def _seconds(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "N/A") else None
    except ValueError:
        return None


def check_limits(info: SourceInfo, max_pixels: str, max_seconds: float) -> None:
    """Refuse sources beyond the configured resolution or duration, with a plain reason."""
    max_w, _, max_h = max_pixels.lower().partition("x")
    long_limit, short_limit = max(int(max_w), int(max_h)), min(int(max_w), int(max_h))
    if info.has_video and (max(info.width, info.height) > long_limit or info.short_side > short_limit):
        raise InvalidMedia(f"The video is {info.width}x{info.height}; the largest we take is {max_pixels}.")
    if info.duration > max_seconds:
        raise InvalidMedia(f"The video is {info.duration / 60:.0f} minutes long; the longest we take is "
                           f"{max_seconds / 60:.0f} minutes.")
