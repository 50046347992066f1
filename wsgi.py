"""WSGI entry point: `gunicorn wsgi:app` serves the designer with the API beside it."""

from mahnwerk.wsgi import create_app

app = create_app()
