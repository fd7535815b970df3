"""Encoding benchmark: our whole pipeline against PeerTube's recipe and a hand-written single pass.

On a 60 s 720p clip made by looping the demo video (Big Buck Bunny), in the same run:

* ours: ``wm.services.media.encode`` (ladder + HLS, poster, storyboard, master playlist, MP4 fallback);
* PeerTube's default recipe: one ffmpeg per resolution at preset veryfast, the top rung from the source
  and each lower rung from the top one, then a thumbnail and a storyboard, each its own ffmpeg;
* one hand-written single-pass ffmpeg command for the same ladder (HLS only).

Prints wall times, the ratios ours / single-pass (target <= 1.1) and ours / PeerTube (target <= 0.6),
and the SSIM of every rung of ours and of PeerTube's against the source (target: ours no worse by more
than 0.005 per rung).

    .venv/bin/python -m bench.encode [--seconds 60] [--runs 1]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from wm.services.media import encode as encoder
from wm.services.media.probe import probe

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "wm" / "demo" / "bigbuckbunny.mp4"
PRESET, CRF = "veryfast", 23


def ffmpeg(*args: str) -> str:
    result = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", *args],
                            capture_output=True, text=True, check=True)
    return result.stderr


def make_source(folder: Path, seconds: int) -> Path:
    """Loop the demo clip (re-encoded once at high quality, so the loop has clean timestamps)."""
    source = folder / "source.mp4"
    ffmpeg("-stream_loop", "-1", "-i", str(SAMPLE), "-t", str(seconds), "-c:v", "libx264", "-preset", "fast",
           "-crf", "16", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "160k", str(source))
    return source


def ours(source: Path, out: Path) -> list[str]:
    info = probe(source)
    plan = encoder.build_plan(source, out, info, PRESET, CRF)
    encoder.run(plan)
    encoder.write_master(plan)
    encoder.write_mp4(plan)
    encoder.write_storyboard_vtt(plan)
    return [o.rung.name for o in plan.outputs]


def x264_args(rung: encoder.Rung, fps: float) -> list[str]:
    gop = str(round(fps * 2))
    return ["-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF), "-maxrate", f"{rung.max_kbps}k",
            "-bufsize", f"{rung.max_kbps * 2}k", "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
            "-pix_fmt", "yuv420p"]


def hls_args(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    return ["-f", "hls", "-hls_time", "4", "-hls_playlist_type", "vod",
            "-hls_segment_filename", str(folder / "seg_%05d.ts"), str(folder / "index.m3u8")]


def peertube(source: Path, out: Path, outputs: list[encoder.Output], fps: float) -> None:
    """One ffmpeg per resolution, lower rungs transcoded from the top one, then thumbnail and storyboard."""
    top = outputs[0]
    top_file = out / "top.mp4"
    ffmpeg("-i", str(source), "-vf", f"scale={top.width}:{top.height}", *x264_args(top.rung, fps),
           "-c:a", "aac", "-b:a", "128k", str(top_file))
    ffmpeg("-i", str(top_file), "-c", "copy", *hls_args(out / top.rung.name))
    for output in outputs[1:]:
        ffmpeg("-i", str(top_file), "-vf", f"scale={output.width}:{output.height}", *x264_args(output.rung, fps),
               "-c:a", "aac", "-b:a", "128k", *hls_args(out / output.rung.name))
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
    """SSIM of a rendition scaled back up to the source size, against the source."""
    log = ffmpeg("-i", str(rendition), "-i", str(source), "-lavfi",
                 f"[0:v]scale={width}:{height}:flags=bicubic,setpts=PTS-STARTPTS[a];[1:v]setpts=PTS-STARTPTS[b];"
                 "[a][b]ssim", "-f", "null", "-", "-v", "info")
    return float(re.findall(r"All:([\d.]+)", log)[-1])


def kbps(folder: Path, seconds: int) -> float:
    """Average kbit/s of a rendition's segments (transport-stream overhead, and audio where it is muxed in)."""
    return sum(p.stat().st_size for p in folder.glob("seg_*.ts")) * 8 / seconds / 1000


def timed(label: str, func, *args) -> float:
    started = time.perf_counter()
    func(*args)
    elapsed = time.perf_counter() - started
    print(f"  {label:14} {elapsed:7.2f} s")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--runs", type=int, default=1, help="repeat and keep each pipeline's best time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wm-bench-encode-") as folder:
        work = Path(folder)
        source = make_source(work, args.seconds)
        info = probe(source)
        outputs = encoder.plan_ladder(info)
        fps = encoder.output_fps(info)
        print(f"source: {args.seconds} s {info.width}x{info.height} {fps:g} fps; ladder: "
              f"{', '.join(o.rung.name for o in outputs)}; preset {PRESET}, crf {CRF}")
        best: dict[str, float] = {}
        for run in range(args.runs):
            print(f"run {run + 1}:")
            for name, func in (("ours", ours), ("single-pass", single_pass), ("peertube", peertube)):
                out = work / name
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                call = (source, out) if name == "ours" else (source, out, outputs, fps)
                best[name] = min(best.get(name, float("inf")), timed(name, func, *call))
        print(f"ours / single-pass: {best['ours'] / best['single-pass']:.2f}  (target <= 1.10)")
        print(f"ours / peertube:    {best['ours'] / best['peertube']:.2f}  (target <= 0.60)")
        print("per rung: SSIM against the source (ours, peertube, difference) and segment kbit/s (ours, peertube;")
        print("          PeerTube's segments also carry the 128 kbit/s audio, ours keep it in its own rendition)")
        for output in outputs:
            name = output.rung.name
            a = ssim(work / "ours" / name / "index.m3u8", source, info.width, info.height)
            b = ssim(work / "peertube" / name / "index.m3u8", source, info.width, info.height)
            rate_a, rate_b = (kbps(work / pipeline / name, args.seconds) for pipeline in ("ours", "peertube"))
            print(f"  {name:6} {a:.4f} {b:.4f} {a - b:+.4f}   {rate_a:6.0f} {rate_b:6.0f}")


if __name__ == "__main__":
    main()
