"""The channel configuration inlined into the per-channel loader (docs/frontend.md).

Only public settings go here: what the browser needs to show a button and a
chat window without another round trip. Secrets (identity secret, keys) never
do. Other parts of guide (the proactive rules) add their keys through
``register_contributor``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

from engage.models import Channel

MODULES = ("session", "analytics", "chatmanager", "widget", "loader")

Contributor = Callable[[Channel], dict[str, Any]]
_contributors: list[Contributor] = []


def register_contributor(contributor: Contributor) -> None:
    """Adds keys to every loader's config, e.g. the proactive rules of the channel."""
    if contributor not in _contributors:
        _contributors.append(contributor)


def dist_dir() -> Path:
    return Path(settings.BASE_DIR) / "static" / "dist"


@lru_cache(maxsize=4)
def _manifest(path: str, mtime: float) -> dict[str, str]:
    return json.loads(Path(path).read_text())


def manifest() -> dict[str, str]:
    """static/dist/manifest.json, re-read when the build rewrites it."""
    path = dist_dir() / "manifest.json"
    try:
        return _manifest(str(path), path.stat().st_mtime)
    except FileNotFoundError:
        return {}


def module_files() -> dict[str, str]:
    """Content-hashed file names (relative to /static/dist/) of the built modules."""
    files = manifest()
    return {name: files[f"{name}.js"] for name in MODULES[:-1] if f"{name}.js" in files}


def _pre_contact_fields(channel: Channel) -> list[dict[str, Any]]:
    return [
        {
            "ident": field.ident,
            "label": field.label,
            "scope": field.scope,
            "type": field.field_type,
            "required": field.required,
            "choices": [{"value": c.get("value"), "label": c.get("label", c.get("value"))} for c in field.choices],
        }
        for field in channel.pre_contact_fields.order_by("order", "ident")
    ]


def loader_config(channel: Channel) -> dict[str, Any]:
    """The JSON object the loader receives as PARLEY_CONFIG."""
    config: dict[str, Any] = {
        "brandId": channel.brand.brand_id,
        "channelId": channel.channel_id,
        "isLiveChat": channel.is_live_chat,
        "multiThread": channel.multi_thread,
        "display": channel.display,
        "authMode": channel.auth_mode,
        "modules": module_files(),
        "theme": channel.theme or {},
        "translations": channel.translations or {},
        "welcome": channel.welcome_message,
        "files": {
            "enabled": channel.attachments_enabled,
            "maxSizeMb": channel.max_file_size_mb,
            "types": [t.get("mimeType") for t in channel.allowed_file_types if isinstance(t, dict)],
        },
        "preContactFields": _pre_contact_fields(channel),
    }
    for contributor in _contributors:
        config.update(contributor(channel))
    return config
