"""Single-pass adaptive encoding: one ffmpeg process decodes the source once and writes every rung.

The filter graph splits the decoded picture into the H.264 ladder, the poster (``thumbnail`` filter)
and the storyboard sprite sheets; the HLS muxer cuts 4 s segments on keyframes forced every 2 s in all
rungs alike, so players can switch between them. Afterwards (stream copies only) we write the master
playlist from the measured segment sizes and remux one rung into a faststart MP4 fallback.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import select
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from wm.services.media.probe import DURATION_SLACK_FACTOR, DURATION_SLACK_SECONDS, SourceInfo, input_args, source_url

GOP_SECONDS = 2
SEGMENT_SECONDS = 4
# A copied top rung is cut at the source's own keyframes, so its segments can run longer than 4 s;
# up to 6 s, the segment length Apple's HLS authoring specification recommends, is fine to play.
MAX_COPY_SEGMENT_SECONDS = 6
AUDIO_KBPS = 128
STORYBOARD_TILE = (160, 90)
STORYBOARD_GRID = (10, 10)
MAX_FPS = 60
PR_SET_PDEATHSIG = 1
TICK_SECONDS = 1.0


@dataclass(frozen=True)
class Rung:
    name: str
    short_side: int
    max_kbps: int
    crf_offset: int = 0  # small pictures are blown up on screen, so their flaws show more: spend a little more


LADDER = (
    Rung("1080p", 1080, 6000),
    Rung("720p", 720, 3500),
    Rung("480p", 480, 1500),
    Rung("360p", 360, 900),
    Rung("240p", 240, 450, -1),
)


# A source only a few pixels above a rung gets no rung of its own: it would cost a whole extra encode for a
# picture the rung below shows nearly as well.
OWN_RUNG_MARGIN = 1.1


@dataclass(frozen=True)
class Output:
    rung: Rung
    width: int
    height: int


@dataclass
class EncodePlan:
    source: Path
    out: Path
    info: SourceInfo
    outputs: list[Output]
    fps: float
    preset: str
    crf: int
    storyboard_interval: float
    poster_start: float
    copy_keyframes: list[float] | None = None  # set when the top rung is a stream copy of the source
    max_seconds: float = 4 * 3600  # ffmpeg reads no more of the source than this, whatever its header says
    command: list[str] = field(default_factory=list)

    @property
    def copies_top_rung(self) -> bool:
        return self.copy_keyframes is not None


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def output_fps(info: SourceInfo) -> float:
    """Constant output frame rate: the source's average (so VFR becomes CFR), at most 60."""
    if not info.fps or info.fps > 240:
        return 30.0
    return min(round(info.fps, 3), MAX_FPS)


def plan_ladder(info: SourceInfo) -> list[Output]:
    """The rungs at or below the source's size (never upscaled), topped by the source's own size when it lies
    well between two rungs (as PeerTube keeps the original resolution); a tiny source gets one rung of its own."""
    if not info.has_video:
        return []
    landscape = info.width >= info.height
    short, long_side = info.short_side, max(info.width, info.height)
    rungs = [r for r in LADDER if r.short_side <= short] or [Rung(f"{_even(short)}p", _even(short), 300)]
    own = own_size_rung(short)
    if own is not None:
        rungs.insert(0, own)
    outputs = []
    for rung in rungs:
        other = _even(long_side * rung.short_side / short)
        width, height = (other, rung.short_side) if landscape else (rung.short_side, other)
        outputs.append(Output(rung, _even(width), _even(height)))
    return outputs


def own_size_rung(short_side: int) -> Rung | None:
    """A rung at the source's own size (rounded down to even) when it lies between two ladder rungs and at least
    ``OWN_RUNG_MARGIN`` above the lower one; its bit rate cap is interpolated between theirs."""
    below = next((r for r in LADDER if r.short_side <= short_side), None)
    above = next((r for r in reversed(LADDER) if r.short_side > short_side), None)
    if below is None or above is None or short_side < below.short_side * OWN_RUNG_MARGIN:
        return None
    size = short_side // 2 * 2
    share = (size - below.short_side) / (above.short_side - below.short_side)
    return Rung(f"{size}p", size, round(below.max_kbps + share * (above.max_kbps - below.max_kbps)))


def storyboard_interval(duration: float) -> float:
    """Seconds between storyboard thumbnails: every 2 s for short videos, 100 tiles at most for long ones."""
    return max(2.0, math.ceil(duration / 100))


COPYABLE_PROFILES = {"High", "Main", "Constrained Baseline", "Baseline"}


def source_keyframes(source: Path, demuxer: str) -> list[float]:
    """Presentation times of the source's video keyframes (demuxed only, not decoded)."""
    result = subprocess.run(["ffprobe", "-v", "error", *input_args(demuxer), "-select_streams", "v:0",
                             "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", source_url(source)],
                            capture_output=True, text=True, timeout=1800)
    times = [float(t) for t, _, flags in (line.partition(",") for line in result.stdout.splitlines())
             if "K" in flags and t not in ("", "N/A")]
    return sorted(times)


def copy_keyframes(source: Path, info: SourceInfo, top: Output | None) -> list[float] | None:
    """The source's keyframe times if its video can be the top rung as it is (PeerTube's quick path).

    It qualifies when it is H.264 yuv420p in a common profile, exactly the top rung's size, unrotated,
    constant-rate enough, within the rung's bitrate cap, and has a keyframe at least every 6 s.
    """
    if top is None or not info.has_video or info.rotation:
        return None
    if (info.video_codec, info.pix_fmt) != ("h264", "yuv420p") or info.profile not in COPYABLE_PROFILES:
        return None
    if (info.width, info.height) != (top.width, top.height) or not 0 < info.fps <= MAX_FPS:
        return None
    if not info.video_bit_rate or info.video_bit_rate > top.rung.max_kbps * 1000:
        return None
    times = source_keyframes(source, info.demuxer)
    if not times or times[0] > 0.1:
        return None
    gaps = [b - a for a, b in pairwise([*times, info.duration])]
    return times if max(gaps) <= MAX_COPY_SEGMENT_SECONDS + 0.01 else None


def build_plan(source: Path, out: Path, info: SourceInfo, preset: str, crf: int,
               max_seconds: float = 4 * 3600) -> EncodePlan:
    """Work out the whole ffmpeg command for ``source`` into the folder ``out``; it reads no more of the source
    than ``max_seconds``, nor more than the probe measured plus the slack it allows."""
    # Whatever slips past the probe (timestamps that only the decoder sees through) stops here, not at hours.
    max_seconds = min(max_seconds, info.duration * DURATION_SLACK_FACTOR + DURATION_SLACK_SECONDS)
    fps = output_fps(info)
    poster_start = min(info.duration * 0.1, 10.0)
    outputs = plan_ladder(info)
    plan = EncodePlan(source, out, info, outputs, fps, preset, crf, storyboard_interval(info.duration),
                      poster_start, copy_keyframes(source, info, outputs[0] if outputs else None), max_seconds)
    plan.command = _command(plan)
    return plan


def _command(plan: EncodePlan) -> list[str]:
    info, out = plan.info, plan.out
    gop = max(1, round(plan.fps * GOP_SECONDS))
    if plan.copies_top_rung:  # only the forced keyframes, where the copied rung has its own
        gop = math.ceil(plan.fps * MAX_COPY_SEGMENT_SECONDS) + 1
    command = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", "-progress", "pipe:1", "-nostats",
               *input_args(info.demuxer), "-t", f"{plan.max_seconds:g}", "-i", source_url(plan.source)]
    graph, maps, streams = [], [], []
    if plan.outputs:
        count = len(plan.outputs) + 2
        labels = [f"[s{i}]" for i in range(count) if not (i == 0 and plan.copies_top_rung)]
        graph.append(f"[0:v:0]fps={plan.fps},format=yuv420p,split={len(labels)}" + "".join(labels))
        for i, output in enumerate(plan.outputs):
            if not (i == 0 and plan.copies_top_rung):
                graph.append(f"[s{i}]scale={output.width}:{output.height}:flags=bicubic,setsar=1[v{i}]")
        tile_w, tile_h = STORYBOARD_TILE
        cols, rows = STORYBOARD_GRID
        graph.append(f"[s{len(plan.outputs)}]fps=1/{plan.storyboard_interval},"
                     f"scale={tile_w}:{tile_h}:force_original_aspect_ratio=decrease,"
                     f"pad={tile_w}:{tile_h}:(ow-iw)/2:(oh-ih)/2,tile={cols}x{rows}[sb]")
        poster_frames = max(1, round(min(5.0, info.duration - plan.poster_start) * plan.fps))
        graph.append(f"[s{len(plan.outputs) + 1}]trim=start={plan.poster_start:.3f},setpts=PTS-STARTPTS,"
                     f"thumbnail={poster_frames},scale=-2:'min(720,ih)'[poster]")
    command += ["-filter_complex", ";".join(graph)] if graph else []
    for i, output in enumerate(plan.outputs):
        rate = output.rung.max_kbps
        if i == 0 and plan.copies_top_rung:
            maps += ["-map", "0:v:0"]
            streams += ["-c:v:0", "copy"]
            continue
        maps += ["-map", f"[v{i}]"]
        crf = plan.crf + output.rung.crf_offset
        streams += [f"-c:v:{i}", "libx264", f"-preset:v:{i}", plan.preset, f"-crf:v:{i}", str(crf),
                    f"-maxrate:v:{i}", f"{rate}k", f"-bufsize:v:{i}", f"{rate * 2}k", f"-profile:v:{i}", "high",
                    f"-g:v:{i}", str(gop), f"-keyint_min:v:{i}", str(gop)]
    if plan.outputs:
        # Every encoded rung cuts keyframes where the others do: every 2 s, or where the copied top rung has them.
        forced = (",".join(f"{t:.3f}" for t in plan.copy_keyframes) if plan.copies_top_rung
                  else f"expr:gte(t,n_forced*{GOP_SECONDS})")
        streams += ["-sc_threshold", "0", "-force_key_frames", forced, "-x264-params", "open-gop=0"]
    if info.has_audio:
        maps += ["-map", "0:a:0"]
        streams += ["-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k", "-ac", "2", "-ar", "48000"]
    names = [f"v:{i},agroup:aud,name:{o.rung.name}" if info.has_audio else f"v:{i},name:{o.rung.name}"
             for i, o in enumerate(plan.outputs)]
    if info.has_audio:
        names.insert(0, "a:0,agroup:aud,name:audio")
    command += maps + streams + [
        "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments", "-hls_segment_type", "mpegts",
        "-var_stream_map", " ".join(names),
        "-hls_segment_filename", str(out / "%v" / "seg_%05d.ts"), str(out / "%v" / "index.m3u8"),
    ]
    if plan.outputs:
        command += ["-map", "[sb]", "-c:v", "mjpeg", "-q:v", "5", "-fps_mode", "passthrough",
                    str(out / "storyboard" / "sb_%03d.jpg"),
                    "-map", "[poster]", "-c:v", "mjpeg", "-q:v", "3", "-frames:v", "1", "-update", "1",
                    str(out / "poster.jpg")]
    return command


def run(plan: EncodePlan, on_progress: Callable[[int], None] | None = None) -> None:
    """Run the plan's ffmpeg command; raise on failure. ``on_progress`` hears the whole percent done at least once
    every ``TICK_SECONDS``, and may raise ``EncodeCancelled`` to stop the encode: ffmpeg is killed and the
    exception passes on."""
    for folder in [*(o.rung.name for o in plan.outputs), "audio", "storyboard"]:
        (plan.out / folder).mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(plan.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=_die_with_parent)
    assert process.stdout is not None and process.stderr is not None
    done_us, pending = 0, b""
    try:
        while True:
            ready, _, _ = select.select([process.stdout], [], [], TICK_SECONDS)
            if ready:
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    key, _, value = line.strip().partition(b"=")
                    if key == b"out_time_us" and value.isdigit():
                        done_us = max(done_us, int(value))
            if on_progress:
                on_progress(_percent_done(plan, done_us))
    except BaseException:  # the callback stopped the encode (its video was deleted), or the job is being killed
        process.kill()
        process.wait()
        raise
    stderr = process.stderr.read().decode(errors="replace")
    if process.wait() != 0:
        raise EncodeError(stderr.strip().splitlines()[-1] if stderr.strip() else "ffmpeg failed")


def _percent_done(plan: EncodePlan, done_us: int) -> int:
    """How far the encode is, 0 to 99: ffmpeg's ``-progress`` time, or the 4 s segments already written.

    ffmpeg reports no progress until every output has started, and the storyboard's first sheet only starts
    at its 100th tile (often the end of the video), so the segments on disk are the steady signal.
    """
    folder = plan.out / (plan.outputs[-1].rung.name if plan.outputs else "audio")
    written = max(0, len(list(folder.glob("seg_*.ts"))) - 1)  # the newest segment may still be growing
    seconds = max(done_us / 1e6, written * SEGMENT_SECONDS)
    return min(99, int(seconds / plan.info.duration * 100))


def _die_with_parent() -> None:
    """Linux: ffmpeg gets SIGKILL when the worker that started it dies, so no encode outlives its job."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class EncodeError(RuntimeError):
    """ffmpeg failed; the message is its last line of output."""


class EncodeCancelled(Exception):
    """Raised by a progress callback to stop a running encode (ffmpeg is killed)."""


def _segments(playlist: Path) -> list[tuple[float, Path]]:
    lines = playlist.read_text().splitlines()
    return [(float(line.split(":")[1].rstrip(",")), playlist.parent / lines[i + 1])
            for i, line in enumerate(lines) if line.startswith("#EXTINF:")]


def _rates(playlist: Path) -> tuple[int, int]:
    """Peak and average bits per second over a media playlist's segments."""
    segments = _segments(playlist)
    total_time = sum(duration for duration, _ in segments) or 1
    total_bits = sum(path.stat().st_size * 8 for _, path in segments)
    peak = max((path.stat().st_size * 8 / duration for duration, path in segments if duration > 0.5), default=0)
    return int(max(peak, total_bits / total_time)), int(total_bits / total_time)


def _avc_codec(segment: Path) -> str:
    result = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                             "stream=profile,level", "-of", "json", str(segment)], capture_output=True, text=True)
    stream = (json.loads(result.stdout or "{}").get("streams") or [{}])[0]
    profile = {"High": "6400", "Main": "4d40", "Constrained Baseline": "42e0", "Baseline": "4200"}.get(
        stream.get("profile", "High"), "6400")
    return f"avc1.{profile}{int(stream.get('level', 40)):02x}"


def write_master(plan: EncodePlan) -> list[dict]:
    """Write ``master.m3u8`` with measured bandwidths; return the renditions' descriptions."""
    out, renditions = plan.out, []
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    audio_peak = audio_avg = 0
    if plan.info.has_audio:
        audio_peak, audio_avg = _rates(out / "audio" / "index.m3u8")
        lines.append('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,'
                     'CHANNELS="2",URI="audio/index.m3u8"')
    for output in plan.outputs:
        playlist = out / output.rung.name / "index.m3u8"
        peak, average = _rates(playlist)
        codecs = _avc_codec(_segments(playlist)[0][1]) + (",mp4a.40.2" if plan.info.has_audio else "")
        attributes = (f"BANDWIDTH={peak + audio_peak},AVERAGE-BANDWIDTH={average + audio_avg},"
                      f"RESOLUTION={output.width}x{output.height},CODECS=\"{codecs}\","
                      f"FRAME-RATE={plan.fps:.3f}" + (',AUDIO="aud"' if plan.info.has_audio else ""))
        lines += [f"#EXT-X-STREAM-INF:{attributes}", f"{output.rung.name}/index.m3u8"]
        renditions.append({"name": output.rung.name, "width": output.width, "height": output.height,
                           "bandwidth": peak + audio_peak, "average_bandwidth": average + audio_avg})
    if not plan.outputs and plan.info.has_audio:
        lines += [f'#EXT-X-STREAM-INF:BANDWIDTH={audio_peak},AVERAGE-BANDWIDTH={audio_avg},CODECS="mp4a.40.2"',
                  "audio/index.m3u8"]
        renditions.append({"name": "audio", "bandwidth": audio_peak, "average_bandwidth": audio_avg})
    (out / "master.m3u8").write_text("\n".join(lines) + "\n")
    return renditions


def fallback_rung(plan: EncodePlan) -> Output | None:
    """The rung remuxed into the MP4 fallback: the largest at or below 720p."""
    return next((o for o in plan.outputs if o.rung.short_side <= 720), plan.outputs[-1] if plan.outputs else None)


def write_mp4(plan: EncodePlan) -> Path:
    """Remux (no re-encode) one rung and the audio into a faststart MP4 (M4A for audio-only sources)."""
    rung = fallback_rung(plan)
    inputs: list[str] = []
    if rung:
        inputs += ["-i", str(plan.out / rung.rung.name / "index.m3u8")]
    if plan.info.has_audio:
        inputs += ["-i", str(plan.out / "audio" / "index.m3u8")]
    target = plan.out / ("video.mp4" if rung else "audio.m4a")
    maps = [arg for i in range(len(inputs) // 2) for arg in ("-map", f"{i}:0")]
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", *inputs, *maps, "-c", "copy",
                    "-movflags", "+faststart", str(target)], check=True, capture_output=True)
    return target


def write_storyboard_vtt(plan: EncodePlan) -> Path | None:
    """The WebVTT index that maps each storyboard interval to its tile in the sprite sheets."""
    sheets = sorted((plan.out / "storyboard").glob("sb_*.jpg"))
    if not sheets:
        return None
    tile_w, tile_h = STORYBOARD_TILE
    cols, rows = STORYBOARD_GRID
    cues, start, index = ["WEBVTT", ""], 0.0, 0
    while start < plan.info.duration:
        sheet, cell = divmod(index, cols * rows)
        if sheet >= len(sheets):
            break
        end = min(start + plan.storyboard_interval, plan.info.duration)
        x, y = (cell % cols) * tile_w, (cell // cols) * tile_h
        cues += [f"{_vtt_time(start)} --> {_vtt_time(end)}", f"{sheets[sheet].name}#xywh={x},{y},{tile_w},{tile_h}", ""]
        start, index = end, index + 1
    target = plan.out / "storyboard" / "storyboard.vtt"
    target.write_text("\n".join(cues))
    return target


def _vtt_time(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{secs:06.3f}"


def audio_poster(plan: EncodePlan) -> Path:
    """Poster for an audio-only source: its cover art if it has one, else a drawing of its waveform."""
    target = plan.out / "poster.jpg"
    source = [*input_args(plan.info.demuxer), "-t", f"{plan.max_seconds:g}", "-i", source_url(plan.source)]
    if plan.info.attached_picture:
        command = [*source, "-map", "0:v:0", "-frames:v", "1", "-vf", "scale=-2:'min(720,ih)'"]
    else:
        command = [*source, "-filter_complex", "[0:a:0]showwavespic=s=1280x720:colors=#a995ff",
                   "-frames:v", "1"]
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", *command, str(target)],
                   check=True, capture_output=True)
    return target


