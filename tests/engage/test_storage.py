"""Private files: signed, expiring links on the file system; pre-signed URLs on S3."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from engage.lib import storage

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stored_file():
    return default_storage.save("attachments/1/abc/note.txt", ContentFile(b"hello"))


def test_signed_link_serves_the_file_as_a_download(client, stored_file):
    url = storage.signed_url(stored_file, absolute=False)
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"hello"
    assert response["Content-Disposition"] == 'attachment; filename="note.txt"'
    assert response["X-Content-Type-Options"] == "nosniff"


def test_forged_or_expired_links_answer_404_json(client, stored_file, settings):
    url = storage.signed_url(stored_file, absolute=False)
    forged = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    response = client.get(forged)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    settings.SIGNED_URL_TTL = -1
    assert client.get(url).status_code == 404


def test_media_files_are_not_reachable_by_path(client, stored_file):
    assert client.get("/media/" + stored_file).status_code == 404
    assert client.get("/files/" + stored_file).status_code == 404


def test_absolute_links_use_the_public_url(stored_file, settings):
    settings.PUBLIC_URL = "https://parley.example"
    assert storage.signed_url(stored_file).startswith("https://parley.example/files/")


def test_with_a_bucket_configured_links_are_short_lived_s3v4_presigned_urls():
    """The settings path: environment -> django-storages S3 -> pre-signed URL (signed locally)."""
    code = (
        "import django; django.setup();"
        "from engage.lib.storage import signed_url; print(signed_url('attachments/1/abc/note.txt'))"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "DJANGO_SETTINGS_MODULE": "engage.settings",
        "AWS_STORAGE_BUCKET_NAME": "parley-attachments",
        "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_S3_REGION_NAME": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "test-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "PARLEY_SIGNED_URL_TTL": "120",
    }
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    parts = urlsplit(result.stdout.strip())
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "http",
        "127.0.0.1:9",
        "/parley-attachments/attachments/1/abc/note.txt",
    )
    assert (query["X-Amz-Algorithm"], query["X-Amz-Expires"]) == (["AWS4-HMAC-SHA256"], ["120"])
    assert "X-Amz-Signature" in query
