"""gunicorn settings every deployment shares: ``gunicorn -c python:wm.serving … wsgi:app``.

gunicorn refuses some requests before the app sees them (a control character in a header, more header
fields than it reads, a malformed request line) and words the refusal in an HTML page of its own. It cannot
know then whether the path was an API path, so its refusals are problems (RFC 9457) like every other error of
the API; no browser sends such requests.
"""

from __future__ import annotations

import json

from gunicorn import util

from wm.api import API_VERSION
from wm.web import problem_body


def write_problem(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``util.write_error``, answering ``application/problem+json``."""
    body = json.dumps(problem_body(status_int, f"The request could not be read: {mesg}"[:300])).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/problem+json\r\n"
            f"Cache-Control: no-store\r\nX-API-Version: {API_VERSION}\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


def post_worker_init(worker) -> None:
    """gunicorn's hook: each worker answers its own refusals with ``write_problem``."""
    util.write_error = write_problem
