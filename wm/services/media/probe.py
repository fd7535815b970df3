"""Reading sources with ffprobe, and refusing the ones we cannot or will not encode."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from wm.services import DomainError


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

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)


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
    code, out, err = _ffprobe(["-print_format", "json", "-show_format", "-show_streams", str(path)])
    if code != 0:
        if "moov atom not found" in err:
            raise InvalidMedia("The file is incomplete: it ends before its index (moov atom). Upload it again.")
        raise InvalidMedia("This is not a video or audio file we can read.")
    data = json.loads(out or "{}")
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
    info = SourceInfo(duration=duration, has_video=video is not None, has_audio=audio is not None,
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
    _check_not_truncated(path)
    return info


def _check_not_truncated(path: Path) -> None:
    """Refuse files whose index points past their end (a faststart MP4 cut short, say).

    This demuxes every packet without decoding: disk speed, a few seconds for gigabytes.
    """
    _, out, err = _ffprobe(["-show_entries", "packet=pos,size", "-of", "csv=p=0", str(path)], timeout=1800)
    size = path.stat().st_size
    ends = (int(pos) + int(length) for pos, length in
            (line.split(",")[:2] for line in out.splitlines() if line.count(",") >= 1)
            if pos.isdigit() and length.isdigit())
    if "partial file" in err or max(ends, default=0) > size:
        raise InvalidMedia("The file is incomplete: its data stops before its end. Upload it again.")


def check_limits(info: SourceInfo, max_pixels: str, max_seconds: float) -> None:
    """Refuse sources beyond the configured resolution or duration, with a plain reason."""
    max_w, _, max_h = max_pixels.lower().partition("x")
    long_limit, short_limit = max(int(max_w), int(max_h)), min(int(max_w), int(max_h))
    if info.has_video and (max(info.width, info.height) > long_limit or info.short_side > short_limit):
        raise InvalidMedia(f"The video is {info.width}x{info.height}; the largest we take is {max_pixels}.")
    if info.duration > max_seconds:
        raise InvalidMedia(f"The video is {info.duration / 60:.0f} minutes long; the longest we take is "
                           f"{max_seconds / 60:.0f} minutes.")
