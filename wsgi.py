"""WSGI entry point for gunicorn: only builds the app."""

from wm import create_app

app = create_app()
