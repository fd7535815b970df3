"""The production edge: rendered nginx config in front of a live gunicorn, on loopback ports."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures.apps import REDIS_URL
from tests.fixtures.live import free_port

pytestmark = pytest.mark.edge

ROOT = Path(__file__).resolve().parent.parent


def fetch(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def wait_until_up(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture
def edge(app, mysql_url, tmp_path):
    """gunicorn serving wsgi:app, and nginx in front of it; yields nginx's base URL."""
    bin_dir = Path(sys.executable).parent
    web, public = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env = {**os.environ, "WM_DATABASE_URL": mysql_url, "WM_REDIS_URL": REDIS_URL, "WM_SECRET_KEY": "edge-test",
           "WM_VAR_DIR": str(tmp_path / "var")}
    gunicorn = subprocess.Popen([str(bin_dir / "gunicorn"), "--workers", "2", "--bind", web, "wsgi:app"],
                                cwd=ROOT, env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    prefix = tmp_path / "nginx"
    conf = prefix / "nginx.conf"
    subprocess.run([str(bin_dir / "wm"), "nginx-config", "--standalone", "--listen", public, "--upstream", web,
                    "--prefix", str(prefix), "--out", str(conf)], env=env, check=True, cwd=ROOT)
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    nginx = subprocess.Popen([nginx_bin, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
                             start_new_session=True)
    try:
        wait_until_up(f"http://{web}/health")
        wait_until_up(f"http://{public}/health")
        yield f"http://{public}"
    finally:
        for process in (nginx, gunicorn):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)


def test_nginx_serves_pages_through_gunicorn(edge):
    status, headers, body = fetch(edge + "/", {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    status, headers, body = fetch(edge + "/register")
    assert status == 200 and b"Create your account" in body
    assert fetch(edge + "/health")[0] == 200


def test_nginx_serves_static_files_with_long_cache_headers(edge):
    _, _, page = fetch(edge + "/")
    css_url = re.search(rb'href="(/static/css/wm\.css\?v=[0-9a-f]+)"', page).group(1).decode()
    status, headers, body = fetch(edge + css_url)
    assert status == 200 and b"prefers-color-scheme" in body
    assert "max-age=31536000" in headers["Cache-Control"] and "immutable" in headers["Cache-Control"]
    assert "Server" not in headers or "gunicorn" not in headers["Server"]


def test_burst_on_the_login_page_gets_the_friendly_429(edge):
    statuses, last_body, last_headers = [], b"", {}
    for _ in range(15):
        status, headers, body = fetch(edge + "/login")
        statuses.append(status)
        if status == 429:
            last_body, last_headers = body, headers
    assert statuses[0] == 200
    assert 429 in statuses
    assert b"Too many requests" in last_body and last_headers.get("Retry-After") == "60"
