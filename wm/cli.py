"""The ``wm`` command line: users, workers, scheduler, maintenance, edge config, demo data."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from wm.config import ROOT
from wm.services import DomainError


def register_cli(app: Flask) -> None:
    """Attach the ``wm`` commands to the app's CLI."""
    for command in (users, worker, scheduler, maintenance, nginx_config, edge, seed_demo):
        app.cli.add_command(command)


@click.group()
def users() -> None:
    """Manage accounts."""


@users.command("create-admin")
@click.option("--handle", prompt=True)
@click.option("--email", prompt=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              envvar="WM_ADMIN_PASSWORD", help="Prompted for if not given (or set WM_ADMIN_PASSWORD).")
@with_appcontext
def create_admin(handle: str, email: str, password: str) -> None:
    """Create an admin account."""
    from wm.services.accounts import create_admin as create

    try:
        user = create(handle, email, password)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Admin @{user.handle} created.")


@click.command()
@click.argument("kind", default="general", type=click.Choice(["general", "encode"]))
@click.option("--burst", is_flag=True, help="Exit once the queues are empty.")
@with_appcontext
def worker(kind: str, burst: bool) -> None:
    """Run a worker: 'general' serves critical, high, default, low, maintenance; 'encode' serves encodes."""
    from wm.queues import run_worker

    run_worker(current_app._get_current_object(), kind, burst=burst)


@click.command()
@with_appcontext
def scheduler() -> None:
    """Run the periodic maintenance scheduler (one per deployment)."""
    from jobs.maintenance import SCHEDULE
    from wm.queues import build_scheduler

    build_scheduler(current_app._get_current_object(), SCHEDULE).start()


@click.command()
@click.argument("task", required=False)
@click.option("--list", "list_tasks", is_flag=True, help="List the tasks and their schedule.")
@with_appcontext
def maintenance(task: str | None, list_tasks: bool) -> None:
    """Run one maintenance TASK now (for cron)."""
    from jobs.maintenance import SCHEDULE, TASKS

    if list_tasks or not task:
        for name, func in TASKS.items():
            cron = SCHEDULE[name][1] if name in SCHEDULE else "-"
            click.echo(f"{name:20} {cron:15} {func.__doc__.splitlines()[0]}")
        return
    if task not in TASKS:
        raise click.BadParameter(f"unknown task {task!r}; see 'wm maintenance --list'", param_hint="TASK")
    click.echo(json.dumps(TASKS[task](), default=str))


NGINX_RATES = {"auth": "10r/m", "api": "20r/s", "pages": "30r/s"}

# The pages nginx answers with itself (the app may be the one refusing, or down): code -> (title, message).
EDGE_PAGES = {
    400: ("Bad request", "Your browser sent something this site cannot read. Go back and try again."),
    403: ("Not allowed", "Only creators upload videos. Start your channel first, then try again."),
    413: ("Too large", "That request is larger than this site takes. Videos go through the studio's uploader."),
    429: ("Too many requests", "You are going a bit fast. Wait a minute, then try again."),
    503: ("Back in a moment", "Weekmotion is restarting or under maintenance. Please try again shortly."),
}


def nginx_templates() -> Environment:
    """The Jinja environment of the ``nginx/`` templates."""
    return Environment(loader=FileSystemLoader(ROOT / "nginx"), undefined=StrictUndefined,
                       keep_trailing_newline=True)


def write_edge_pages(folder: Path) -> None:
    """Render nginx's own error pages (``EDGE_PAGES``) from one template into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    template = nginx_templates().get_template("edge_page.html.j2")
    for code, (title, message) in EDGE_PAGES.items():
        (folder / f"{code}.html").write_text(template.render(code=code, title=title, message=message))


def nginx_problem(status: int, detail: str, type_uri: str | None = None) -> str:
    """A problem+json body in the app's terms (``wm.web.problem_body``), quoted for nginx's ``return``.

    ``$name`` in ``detail`` or ``type_uri`` is an nginx variable: nginx writes its value in verbatim.
    """
    from wm.web import problem_body

    body = problem_body(status, detail)
    if type_uri is not None:
        body["type"] = type_uri
    text = json.dumps(body, separators=(",", ":"))
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render_nginx_config(listen: str, upstream: str, standalone: bool, prefix: Path,
                        rates: dict[str, str] | None = None) -> str:
    """The nginx config from ``nginx/*.j2`` for ``listen`` in front of the gunicorn at ``upstream``."""
    from wm.api import API_VERSION
    from wm.services.media.playback import media_secret
    from wm.services.media.upload import incoming_dir, max_patch_bytes
    from wm.storage import LocalStorage, storage

    store = storage()
    env = nginx_templates()
    context = {
        "api_version": API_VERSION,
        "listen": listen,
        "upstream": upstream,
        "static_root": str(ROOT / "wm" / "static"),
        "prefix": str(prefix),
        "edge_pages_root": str(prefix / "pages"),
        "run_as_root": os.geteuid() == 0,
        "rates": NGINX_RATES | (rates or {}),
        "storage_root": store.root if isinstance(store, LocalStorage) else None,
        "media_secret": media_secret(),
        "upload_incoming": incoming_dir(),
        "upload_max_body": f"{math.ceil(max_patch_bytes() / 1024**2)}m",
        # The studio's form upload: a MiB past the app's limit, so that the app's 413 explains it.
        "form_max_body": f"{math.ceil(current_app.config['MAX_CONTENT_LENGTH'] / 1024**2) + 1}m",
        "problem": nginx_problem,
    }
    server = env.get_template("weekmotion.conf.j2").render(**context)
    if not standalone:
        return server
    return env.get_template("nginx.conf.j2").render(server=server, **context)


@click.command("nginx-config")
@click.option("--listen", default="127.0.0.1:8000", show_default=True, help="Address nginx listens on.")
@click.option("--upstream", default="127.0.0.1:8001", show_default=True, help="Address gunicorn listens on.")
@click.option("--standalone", is_flag=True, help="A whole nginx.conf (for 'nginx -c'), not a conf.d include.")
@click.option("--prefix", type=click.Path(path_type=Path), default=None,
              help="Folder for nginx's own error pages, and the logs, pid and temp files of a standalone "
                   "nginx [var/nginx].")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write here instead of stdout.")
@click.option("--rate", "rate_overrides", multiple=True, metavar="ZONE=RATE",
              help="Override a per-address request rate: auth (10r/m), api (20r/s) or pages (30r/s).")
@with_appcontext
def nginx_config(listen: str, upstream: str, standalone: bool, prefix: Path | None, out: Path | None,
                 rate_overrides: tuple[str, ...] = ()) -> None:
    """Render the nginx config (it holds the media-signing secret: the file is made private)."""
    from wm.config import var_dir

    prefix = (prefix or var_dir() / "nginx").resolve()
    if standalone:
        for sub in ("logs", "tmp"):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
    rates = dict(item.split("=", 1) for item in rate_overrides if "=" in item)
    unknown = set(rates) - set(NGINX_RATES)
    if unknown or len(rates) != len(rate_overrides):
        raise click.BadParameter(f"use ZONE=RATE with ZONE one of {', '.join(NGINX_RATES)}", param_hint="--rate")
    text = render_nginx_config(listen, upstream, standalone, prefix, rates)
    write_edge_pages(prefix / "pages")
    if out is None:
        click.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.touch(mode=0o600)
        out.chmod(0o600)
        out.write_text(text)


@click.command()
@click.option("--listen", default="127.0.0.1:8000", show_default=True)
@click.option("--upstream", default="127.0.0.1:8001", show_default=True)
@click.pass_context
@with_appcontext
def edge(ctx: click.Context, listen: str, upstream: str) -> None:
    """Run nginx in the foreground in front of gunicorn (make run); idle if nginx is not installed."""
    from wm.config import var_dir

    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if nginx is None:
        click.echo("nginx is not installed: gunicorn serves the site directly.")
        signal.pause()
        return
    conf = var_dir() / "nginx" / "nginx.conf"
    ctx.invoke(nginx_config, listen=listen, upstream=upstream, standalone=True, prefix=conf.parent, out=conf)
    os.execv(nginx, [nginx, "-p", str(conf.parent), "-c", str(conf), "-g", "daemon off;"])


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Create the demo accounts, an API token and a small feed of demo videos (cut from the sample); passwords and
    the token are printed once."""
    from wm.services.demo import TOKEN_NAME, TOKEN_OWNER, TOKEN_SCOPES, seed

    seeded = seed()
    if not seeded.accounts:
        click.echo("Demo accounts exist already (their passwords were printed when they were made).")
    else:
        click.echo("Demo accounts (shown once; keep them):")
        for handle, role, password in seeded.accounts:
            click.echo(f"  {role:8} login: {handle:14} password: {password}")
    if seeded.token:
        scopes = "+".join(TOKEN_SCOPES)
        click.echo(f"API access token of {TOKEN_OWNER} (\"{TOKEN_NAME}\", {scopes}; shown once): {seeded.token}")
        click.echo(f"  try: curl -H \"Authorization: Bearer {seeded.token}\" "
                   f"{current_app.config['WM_PUBLIC_URL']}/api/v1/me")
    if seeded.videos:
        click.echo(f"Demo videos uploaded: {len(seeded.videos)}; they appear in the feed once the workers have encoded "
                   "them.")


def main() -> None:
    """Entry point of the ``wm`` console script."""
    from wm import create_app

    cli = FlaskGroup(name="wm", create_app=lambda: create_app(), help="Weekmotion command line.")
    sys.exit(cli.main())
