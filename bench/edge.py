"""Edge benchmark: what nginx in front of gunicorn costs (pages) and saves (static files).

Starts gunicorn + nginx (the rendered production config) on loopback ports against a fresh SQLite
database, then drives each URL with keep-alive HTTP clients in threads, once straight at gunicorn
and once through nginx, in the same run. Prints requests/s and the ratio nginx / gunicorn.

    .venv/bin/python -m bench.edge [--requests 3000] [--clients 8]

Expect: pages through nginx at >= 0.8x direct gunicorn (proxy overhead); static files through
nginx well above 1x (served from disk, never reaching Python).
"""

from __future__ import annotations

import argparse
import http.client
import re
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from bench import REDIS_URL, drive, fresh_app
from tests.fixtures.edge import edge_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wm-bench-") as folder:
        _, database_url = fresh_app(Path(folder))
        # the per-address limits would throttle a one-address benchmark: lift them for this run
        lifted = ("--rate", "pages=100000r/s")
        with edge_stack(database_url, REDIS_URL, Path(folder), nginx_args=lifted) as stack:
            page = http.client.HTTPConnection(urlsplit(stack.web).netloc)
            page.request("GET", "/login")
            css = re.search(r'href="(/static/css/wm\.css\?v=[0-9a-f]+)"', page.getresponse().read().decode()).group(1)
            print(f"{'url':32} {'gunicorn req/s':>15} {'nginx req/s':>12} {'nginx/gunicorn':>15}")
            for path in ("/", "/health", css):
                direct = drive(stack.web, path, args.requests, args.clients).rps
                edge = drive(stack.edge, path, args.requests, args.clients).rps
                print(f"{path[:32]:32} {direct:15.0f} {edge:12.0f} {edge / direct:15.2f}")


if __name__ == "__main__":
    main()
