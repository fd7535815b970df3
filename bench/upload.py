"""Upload benchmark: a big tus upload through nginx and gunicorn, against raw nginx writing the same bytes.

Starts gunicorn + nginx (the production config) on loopback ports against a fresh SQLite database,
logs a creator in, and uploads a file of random bytes with tuspy in 32 MiB chunks (the studio's size).
The baseline, in the same run: curl PUTting the same file to a plain nginx (WebDAV PUT to disk, no
app behind it). The two alternate ``--runs`` times, each from a synced page cache, because this
machine's disk sometimes throttles a burst of writes to a third of its speed. Prints each run, the
medians, their ratio (target >= 0.7), and the peak RSS of every gunicorn process (target < 150 MB, and
not growing with the file size: run it with two sizes to see).

    .venv/bin/python -m bench.upload [--megabytes 1024] [--chunk-megabytes 32] [--runs 7] [--dir /dev/shm]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median

from tusclient.client import TusClient

from bench import REDIS_URL, fresh_app
from tests.fixtures.apps import PASSWORD
from tests.fixtures.edge import edge_stack, wait_until_up
from tests.fixtures.live import free_port
from tests.fixtures.media import WebSession
from wm.models.accounts import Role
from wm.services.accounts import register

RAW_NGINX = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
{user}
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    server {{
        listen {listen};
        location /put/ {{
            root {prefix}/files;
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 0;
        }}
    }}
}}
"""


@contextmanager
def raw_nginx(folder: Path) -> Iterator[tuple[str, Path]]:
    """A plain nginx that writes PUT bodies to disk (WebDAV); yields its URL for ``file.bin`` and where
    that file lands."""
    prefix = folder / "raw-nginx"
    (prefix / "files").mkdir(parents=True)
    listen = f"127.0.0.1:{free_port()}"
    conf = prefix / "nginx.conf"
    conf.write_text(RAW_NGINX.format(prefix=prefix, listen=listen,
                                     user="user root;" if os.geteuid() == 0 else ""))
    nginx = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(prefix), "-c", str(conf),
                              "-g", "daemon off;"], start_new_session=True)
    try:
        wait_until_up(f"http://{listen}/")
        yield f"http://{listen}/put/file.bin", prefix / "files" / "put" / "file.bin"
    finally:
        os.killpg(nginx.pid, signal.SIGTERM)
        nginx.wait(10)


def raw_put(path: Path, url: str, stored: Path) -> float:
    """Seconds for curl to PUT ``path`` to the plain nginx (which stores it as ``stored``)."""
    os.sync()
    started = time.perf_counter()
    subprocess.run(["curl", "-sS", "-f", "-T", str(path), url], check=True)
    elapsed = time.perf_counter() - started
    assert stored.stat().st_size == path.stat().st_size
    stored.unlink()
    return elapsed


def tus_put(client: TusClient, path: Path, chunk: int, var: Path) -> float:
    """Seconds for tuspy to upload ``path`` through nginx and gunicorn (the parts are dropped after)."""
    uploader = client.uploader(str(path), chunk_size=chunk)
    os.sync()
    started = time.perf_counter()
    uploader.upload()
    elapsed = time.perf_counter() - started
    assert uploader.offset == path.stat().st_size
    shutil.rmtree(var / "uploads" / uploader.url.rstrip("/").rsplit("/", 1)[-1])
    return elapsed


def peak_rss_kb(pid: int) -> int:
    return int(re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1))


def gunicorn_peak_rss(web: str) -> dict[int, int]:
    """Peak resident memory (VmHWM, kB) of the gunicorn master listening on ``web`` and its workers."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        if "gunicorn" in cmdline and web.removeprefix("http://") in cmdline:
            workers = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            return {int(p): peak_rss_kb(int(p)) for p in [pid, *workers]}
    raise SystemExit(f"no gunicorn process found for {web}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=1024)
    parser.add_argument("--chunk-megabytes", type=int, default=32)
    parser.add_argument("--runs", type=int, default=7, help="alternate the two this many times")
    parser.add_argument("--dir", help="where both write (default: the temp folder; /dev/shm takes the disk out)")
    args = parser.parse_args()
    chunk, size = args.chunk_megabytes * 1024 * 1024, args.megabytes
    with tempfile.TemporaryDirectory(prefix="wm-bench-upload-", dir=args.dir) as folder:
        work = Path(folder)
        data = work / "upload.bin"
        with data.open("wb") as file:
            for _ in range(size):
                file.write(os.urandom(1024 * 1024))
        env = {"WM_VAR_DIR": str(work / "var"), "WM_SECRET_KEY": "bench-upload", "WM_UPLOAD_CHUNK_BYTES": str(chunk)}
        os.environ.update(env)
        app, database_url = fresh_app(work)
        with app.app_context():
            register("bench_creator", "bench@example.com", PASSWORD, role=Role.creator)
        lifted = ("--rate", "auth=1000r/s", "--rate", "api=1000r/s")
        raw: list[float] = []
        tus: list[float] = []
        with raw_nginx(work) as (url, stored), edge_stack(database_url, REDIS_URL, work, nginx_args=lifted,
                                                 env_overrides=env) as stack:
            client = WebSession(stack.edge, "bench_creator").tus()
            for run in range(args.runs):
                raw.append(raw_put(data, url, stored))
                tus.append(tus_put(client, data, chunk, work / "var"))
                print(f"run {run + 1}: raw {size / raw[-1]:7.1f} MiB/s   tus {size / tus[-1]:7.1f} MiB/s", flush=True)
            peaks = gunicorn_peak_rss(stack.web)
    print(f"file: {size} MiB, tus chunks of {args.chunk_megabytes} MiB, {args.runs} runs each, alternating")
    print(f"raw nginx PUT (curl), median:     {median(raw):6.2f} s  {size / median(raw):7.1f} MiB/s")
    print(f"tus via nginx + gunicorn, median: {median(tus):6.2f} s  {size / median(tus):7.1f} MiB/s")
    print(f"throughput ratio tus / raw: {median(raw) / median(tus):.2f} of the medians (target >= 0.70), "
          f"{min(raw) / min(tus):.2f} of the best runs")
    print("peak RSS of the gunicorn processes (MB): "
          + ", ".join(f"{kb / 1024:.0f}" for kb in sorted(peaks.values())) + "  (target < 150 each)")


if __name__ == "__main__":
    main()
