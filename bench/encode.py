"""Encoding benchmark: our whole pipeline against PeerTube's recipe and a hand-written single pass.

On a 60 s 720p clip made by looping the demo video (Big Buck Bunny), in the same run, for two sources
(``--source``): ``camera``, the loop re-encoded at a camera's rate, which no pipeline can copy, and
``sample``, the sample's own stream looped, whose video both PeerTube and we keep as the top rung:

* ours: ``wm.services.media.encode`` (ladder + HLS, poster, storyboard, master playlist, MP4 fallback);
* PeerTube's default recipe, with PeerTube's own options (preset veryfast, its bitrate caps, 16 B-frames,
  scene cuts on): one ffmpeg per resolution, the top one from the source and each lower one from the top
  file, then a thumbnail and a storyboard, each its own ffmpeg (ffmpeg picks its threads, the most
  favourable setting for it);
* one hand-written single-pass ffmpeg command for the same ladder (HLS only).

Prints wall times, the ratios ours / single-pass (target <= 1.1) and ours / PeerTube (target <= 0.6),
and the SSIM of every rung of ours and of PeerTube's against the source (target: ours no worse by more
than 0.005 per rung).

    .venv/bin/python -m bench.encode [--seconds 60] [--runs 1] [--source camera|sample|both]
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from wm.services.media import encode as encoder
from wm.services.media.probe import SourceInfo, probe

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "wm" / "demo" / "bigbuckbunny.mp4"
PRESET, CRF = "veryfast", 23


def ffmpeg(*args: str) -> str:
    result = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", *args],
                            capture_output=True, text=True, check=True)
    return result.stderr


SOURCES = {
    "camera": "the loop re-encoded at CRF 12 (~6.5 Mbit/s), like a camera or phone original: "
              "neither pipeline can stream-copy it",
    "sample": "the sample's own 1.2 Mbit/s H.264 looped by stream copy: PeerTube's quick transcode "
              "and our copy path both keep it as the top rung",
}


def make_source(folder: Path, seconds: int, kind: str) -> Path:
    """Loop the demo clip to ``seconds``: re-encoded as a high-rate original, or its own stream copied."""
    source = folder / f"source-{kind}.mp4"
    if kind == "camera":
        video = ["-c:v", "libx264", "-preset", "fast", "-crf", "12", "-pix_fmt", "yuv420p", "-c:a", "aac",
                 "-b:a", "160k"]
    else:
        video = ["-c", "copy"]
    ffmpeg("-stream_loop", "-1", "-i", str(SAMPLE), "-t", str(seconds), *video, str(source))
    return source


def ours(source: Path, out: Path) -> None:
    info = probe(source)
    plan = encoder.build_plan(source, out, info, PRESET, CRF)
    encoder.run(plan)
    encoder.write_master(plan)
    encoder.write_mp4(plan)
    encoder.write_storyboard_vtt(plan)


def x264_args(rung: encoder.Rung, fps: float) -> list[str]:
    """Our rung settings, for the hand-written single pass."""
    gop = str(round(fps * 2))
    return ["-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF + rung.crf_offset), "-maxrate", f"{rung.max_kbps}k",
            "-bufsize", f"{rung.max_kbps * 2}k", "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
            "-pix_fmt", "yuv420p"]


# PeerTube's bits per pixel by resolution: minimum, average, maximum (core-utils/src/videos/bitrate.ts).
MINIMUM, AVERAGE, MAXIMUM = range(3)
PEERTUBE_BPP = {1080: (0.02, 0.10, 0.17), 720: (0.02, 0.11, 0.19), 480: (0.02, 0.12, 0.22),
                360: (0.02, 0.15, 0.26), 240: (0.02, 0.17, 0.29), 144: (0.02, 0.19, 0.32)}


def peertube_bitrate(resolution: int, ratio: float, fps: float, kind: int) -> int:
    """bit/s for ``resolution`` (the short side) at ``kind`` (MINIMUM, AVERAGE or MAXIMUM)."""
    key = max(r for r in PEERTUBE_BPP if r <= resolution)
    return math.floor(resolution * resolution * ratio * fps * PEERTUBE_BPP[key][kind])


def peertube_video_args(input_info: SourceInfo, resolution: int, fps: float) -> list[str]:
    """PeerTube's default libx264 VOD options (ffmpeg-default-transcoding-profile.ts, encoder-options.ts)."""
    ratio = input_info.width / input_info.height
    average = peertube_bitrate(resolution, ratio, fps, AVERAGE)
    capped = min(average, input_info.video_bit_rate * 1.3) if input_info.video_bit_rate else average
    target = int(max(peertube_bitrate(resolution, ratio, fps, MINIMUM), capped))
    return ["-vf", f"scale=w=-2:h={resolution}", "-c:v", "libx264", "-preset", "veryfast",
            "-maxrate:v", str(target), "-bufsize:v", str(target * 2), "-b_strategy", "1", "-bf", "16",
            "-r", f"{fps:g}", "-g:v", str(round(fps * 2)),
            "-max_muxing_queue_size", "1024", "-map_metadata", "-1", "-pix_fmt", "yuv420p"]


def peertube_audio_args(input_info: SourceInfo) -> list[str]:
    """PeerTube copies AAC audio, else encodes AAC in stereo."""
    if input_info.audio_codec == "aac":
        return ["-c:a", "copy"]
    return ["-c:a", "aac", "-channel_layout", "stereo"]


def peertube_can_copy_video(info: SourceInfo, fps: float) -> bool:
    """PeerTube's quick-transcode test (canDoQuickVideoTranscode)."""
    maximum = peertube_bitrate(info.short_side, max(info.width, info.height) / info.short_side, fps, MAXIMUM)
    return (info.video_codec, info.pix_fmt) == ("h264", "yuv420p") and 2 <= info.fps <= 60 \
        and 0 < info.video_bit_rate <= maximum


def peertube_hls_args(folder: Path) -> list[str]:
    """PeerTube's HLS output: 4 s fragmented-MP4 segments in one file (ffmpeg-vod.ts)."""
    folder.mkdir(parents=True, exist_ok=True)
    return ["-hls_time", "4", "-hls_list_size", "0", "-hls_playlist_type", "vod",
            "-hls_segment_filename", str(folder / "video.mp4"), "-hls_segment_type", "fmp4", "-f", "hls",
            "-hls_flags", "single_file", str(folder / "index.m3u8")]


def peertube(source: Path, out: Path, outputs: list[encoder.Output], fps: float) -> None:
    """PeerTube's default jobs, one ffmpeg each: the top resolution as a faststart MP4 from the source
    (a copy where PeerTube's quick-transcode test allows), its HLS by stream copy, each lower resolution
    transcoded from the top file straight to HLS, then the thumbnail and the storyboard."""
    top = outputs[0]
    top_file = out / "top.mp4"
    info = probe(source)
    if peertube_can_copy_video(info, fps):
        video = ["-c:v", "copy", "-map_metadata", "-1"]
    else:
        video = peertube_video_args(info, top.rung.short_side, fps)
    ffmpeg("-i", str(source), *video, *peertube_audio_args(info), "-movflags", "faststart", str(top_file))
    ffmpeg("-i", str(top_file), "-c", "copy", *peertube_hls_args(out / top.rung.name))
    top_info = probe(top_file)
    for output in outputs[1:]:
        ffmpeg("-i", str(top_file), *peertube_video_args(top_info, output.rung.short_side, fps),
               *peertube_audio_args(top_info), *peertube_hls_args(out / output.rung.name))
    ffmpeg("-ss", "2", "-i", str(top_file), "-frames:v", "1", "-vf", "scale=-2:720", str(out / "thumbnail.jpg"))
    ffmpeg("-i", str(top_file), "-vf", "fps=1/2,scale=160:90,tile=10x10", "-fps_mode", "passthrough",
           str(out / "storyboard_%03d.jpg"))


def single_pass(source: Path, out: Path, outputs: list[encoder.Output], fps: float) -> None:
    """The same ladder from one hand-written ffmpeg command: one decode, a split, every rung, HLS."""
    graph = f"[0:v]split={len(outputs)}" + "".join(f"[s{i}]" for i in range(len(outputs)))
    graph += "".join(f";[s{i}]scale={o.width}:{o.height}[v{i}]" for i, o in enumerate(outputs))
    args = ["-i", str(source), "-filter_complex", graph]
    for i, output in enumerate(outputs):
        options = x264_args(output.rung, fps)
        # every option needs the stream specifier, or the last rung's value would apply to all of them
        args += ["-map", f"[v{i}]", *[f"{a}:v:{i}" if a.startswith("-") else a for a in options]]
    args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "128k", "-f", "hls", "-hls_time", "4",
             "-hls_playlist_type", "vod", "-var_stream_map",
             " ".join(f"v:{i},agroup:a,name:{o.rung.name}" for i, o in enumerate(outputs)) + " a:0,agroup:a,name:au",
             "-hls_segment_filename", str(out / "%v" / "seg_%05d.ts"), str(out / "%v" / "index.m3u8")]
    for output in [*outputs, None]:
        (out / (output.rung.name if output else "au")).mkdir(parents=True, exist_ok=True)
    ffmpeg(*args)


def ssim(rendition: Path, source: Path, width: int, height: int) -> float:
    """SSIM of a rendition scaled back up to the source size, against the source.

    Frames are paired by time, rounded to the millisecond: MPEG-TS keeps 90 kHz ticks, so a stream-copied
    frame at 5.290703 s comes back at 5.290700 s and would otherwise be paired with its predecessor.
    """
    log = ffmpeg("-i", str(rendition), "-i", str(source), "-lavfi",
                 f"[0:v]scale={width}:{height}:flags=bicubic,setpts=PTS-STARTPTS,settb=1/1000[a];"
                 "[1:v]setpts=PTS-STARTPTS,settb=1/1000[b];[a][b]ssim", "-f", "null", "-", "-v", "info")
    return float(re.findall(r"All:([\d.]+)", log)[-1])


def kbps(folder: Path, seconds: int) -> float:
    """Average kbit/s of a rendition's media files (container overhead, and audio where it is muxed in)."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.suffix != ".m3u8") * 8 / seconds / 1000


def timed(label: str, func, *args) -> float:
    started = time.perf_counter()
    func(*args)
    elapsed = time.perf_counter() - started
    print(f"  {label:14} {elapsed:7.2f} s")
    return elapsed


def compare(work: Path, kind: str, seconds: int, runs: int) -> None:
    source = make_source(work, seconds, kind)
    info = probe(source)
    outputs = encoder.plan_ladder(info)
    fps = encoder.output_fps(info)
    print(f"source {kind}: {SOURCES[kind]}")
    print(f"  {seconds} s {info.width}x{info.height} {fps:g} fps {info.video_bit_rate / 1e6:.1f} Mbit/s; ladder: "
          f"{', '.join(o.rung.name for o in outputs)}; preset {PRESET}, crf {CRF}")
    best: dict[str, float] = {}
    for run in range(runs):
        print(f"run {run + 1}:")
        for name, func in (("ours", ours), ("single-pass", single_pass), ("peertube", peertube)):
            out = work / kind / name
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            call = (source, out) if name == "ours" else (source, out, outputs, fps)
            best[name] = min(best.get(name, float("inf")), timed(name, func, *call))
    print(f"ours / single-pass: {best['ours'] / best['single-pass']:.2f}  (target <= 1.10)")
    print(f"ours / peertube:    {best['ours'] / best['peertube']:.2f}  (target <= 0.60)")
    print("per rung: SSIM against the source (ours, peertube, difference) and kbit/s (ours, peertube;")
    print("          PeerTube's rungs also carry the source's audio, ours keep it in its own rendition)")
    for output in outputs:
        name = output.rung.name
        a = ssim(work / kind / "ours" / name / "index.m3u8", source, info.width, info.height)
        b = ssim(work / kind / "peertube" / name / "index.m3u8", source, info.width, info.height)
        rate_a, rate_b = (kbps(work / kind / pipeline / name, seconds) for pipeline in ("ours", "peertube"))
        print(f"  {name:6} {a:.4f} {b:.4f} {a - b:+.4f}   {rate_a:6.0f} {rate_b:6.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--runs", type=int, default=1, help="repeat and keep each pipeline's best time")
    parser.add_argument("--source", choices=[*SOURCES, "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wm-bench-encode-") as folder:
        for kind in SOURCES if args.source == "both" else [args.source]:
            compare(Path(folder), kind, args.seconds, args.runs)


if __name__ == "__main__":
    main()
