"""Upload benchmark: a big tus upload through nginx and gunicorn, against raw nginx writing the same bytes.

Starts gunicorn + nginx (the production config) on loopback ports against a fresh SQLite database,
logs a creator in, and uploads a file of random bytes with tuspy in 8 MiB chunks. The baseline, in
the same run: curl PUTting the same file to a plain nginx (WebDAV PUT to disk, no app behind it).
Prints both throughputs, their ratio (target >= 0.7), and the peak RSS of every gunicorn process
(target < 150 MB, and not growing with the file size: run it with two sizes to see).

    .venv/bin/python -m bench.upload [--megabytes 1024] [--chunk-megabytes 8]
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
from pathlib import Path

from bench import REDIS_URL, fresh_app
from tests.fixtures.apps import PASSWORD
from tests.fixtures.edge import edge_stack
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


def raw_nginx_put(path: Path, folder: Path) -> float:
    """Seconds for curl to PUT ``path`` into a plain nginx that writes it to disk."""
    prefix = folder / "raw-nginx"
    (prefix / "files").mkdir(parents=True)
    listen = f"127.0.0.1:{free_port()}"
    conf = prefix / "nginx.conf"
    conf.write_text(RAW_NGINX.format(prefix=prefix, listen=listen,
                                     user="user root;" if os.geteuid() == 0 else ""))
    nginx = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(prefix), "-c", str(conf),
                              "-g", "daemon off;"], start_new_session=True)
    try:
        time.sleep(0.5)
        os.sync()
        started = time.perf_counter()
        subprocess.run(["curl", "-sS", "-f", "-T", str(path), f"http://{listen}/put/file.bin"], check=True)
        elapsed = time.perf_counter() - started
        assert (prefix / "files" / "put" / "file.bin").stat().st_size == path.stat().st_size
        return elapsed
    finally:
        os.killpg(nginx.pid, signal.SIGTERM)
        nginx.wait(10)


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
    parser.add_argument("--chunk-megabytes", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wm-bench-upload-") as folder:
        work = Path(folder)
        data = work / "upload.bin"
        with data.open("wb") as file:
            for _ in range(args.megabytes):
                file.write(os.urandom(1024 * 1024))
        env = {"WM_VAR_DIR": str(work / "var"), "WM_SECRET_KEY": "bench-upload",
               "WM_UPLOAD_CHUNK_BYTES": str(args.chunk_megabytes * 1024 * 1024)}
        os.environ.update(env)
        app, database_url = fresh_app(work)
        with app.app_context():
            register("bench_creator", "bench@example.com", PASSWORD, role=Role.creator)
        raw = raw_nginx_put(data, work)
        lifted = ("--rate", "auth=1000r/s", "--rate", "api=1000r/s")
        with edge_stack(database_url, REDIS_URL, work, nginx_args=lifted, env_overrides=env) as stack:
            client = WebSession(stack.edge, "bench_creator").tus()
            uploader = client.uploader(str(data), chunk_size=args.chunk_megabytes * 1024 * 1024)
            os.sync()  # start from the same writeback state as the baseline did
            started = time.perf_counter()
            uploader.upload()
            tus = time.perf_counter() - started
            assert uploader.offset == data.stat().st_size
            peaks = gunicorn_peak_rss(stack.web)
    size = args.megabytes
    print(f"file: {size} MiB, tus chunks of {args.chunk_megabytes} MiB")
    print(f"raw nginx PUT (curl):     {raw:6.2f} s  {size / raw:7.1f} MiB/s")
    print(f"tus via nginx + gunicorn: {tus:6.2f} s  {size / tus:7.1f} MiB/s")
    print(f"throughput ratio tus / raw: {raw / tus:.2f}  (target >= 0.70)")
    print("peak RSS of the gunicorn processes (MB): "
          + ", ".join(f"{kb / 1024:.0f}" for kb in sorted(peaks.values())) + "  (target < 150 each)")


if __name__ == "__main__":
    main()
