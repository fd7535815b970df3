"""The nginx auth zone counts form posts only: viewing the login page is never limited, a post burst is."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.fixtures.apps import REDIS_URL
from tests.fixtures.edge import edge_stack
from tests.test_edge import fetch

pytestmark = pytest.mark.edge


def post(url: str) -> int:
    body = urllib.parse.urlencode({"login": "someone", "password": "not the password"}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_nginx_limits_login_posts_but_not_page_views(app, mysql_url, tmp_path):
    # The app's own limit is lifted so that what answers 429 here is nginx.
    with edge_stack(mysql_url, REDIS_URL, tmp_path, env_overrides={"WM_LOGIN_RATE_LIMIT": "1000 per minute"}) as stack:
        views = [fetch(stack.edge + path)[0] for _ in range(15) for path in ("/login", "/register")]
        assert views == [200] * 30
        posts = [post(stack.edge + "/login") for _ in range(20)]
        assert 429 not in posts[:10] and 429 in posts
        assert fetch(stack.edge + "/login")[0] == 200  # a view right after the post burst still works
