"""Private file storage with short-lived signed URLs.

On S3-compatible storage the bucket's own pre-signed URLs are used. On the file
system Parley signs the storage name itself and serves it through
``engage.views.signed_file`` (``/files/<token>``); nothing under MEDIA_ROOT is
ever reachable by path.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.urls import reverse

from engage.lib.signing import sign_value, unsign_value

PURPOSE = "file"


def signed_url(name: str, *, absolute: bool = True) -> str:
    if not isinstance(default_storage, FileSystemStorage):
        return default_storage.url(name)
    path = reverse("signed-file", kwargs={"token": sign_value(name, purpose=PURPOSE)})
    return f"{settings.PUBLIC_URL}{path}" if absolute else path


def name_from_token(token: str) -> str | None:
    return unsign_value(token, purpose=PURPOSE, max_age=settings.SIGNED_URL_TTL)
