"""Static files are served by WhiteNoise, the last middleware (see settings.MIDDLEWARE)."""

from django.core.management import call_command
from django.test import Client


def test_a_collected_static_file_is_served(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)

    response = Client().get("/static/dashboard/app.css")

    assert response.status_code == 200
    assert b"".join(response.streaming_content)
