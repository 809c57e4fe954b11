"""The channel configuration inlined into the per-channel loader (docs/frontend.md).

Only public settings, and only what is needed before the visitor interacts:
which modules to load, the mode, the theme and the button's texts. The widget
reads everything else (texts for the locale, welcome message, file limits,
pre-chat form) from the visitor protocol's channel info when it opens. Secrets
(identity secret, keys) never appear. Other parts of guide (the proactive
rules) add their keys through ``register_contributor``; keep them small, the
loader's budget is 1.5 KB brotli (docs/performance.md).
"""

from __future__ import annotations

import json
import posixpath
import re
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


_STATIC_IMPORT = re.compile(r'(?:^|[;}])\s*import\s*(?:[\w*{}\s,$]+from\s*)?"(\.{1,2}/[^"]+)"')


@lru_cache(maxsize=16)
def _static_imports(path: str, mtime: float) -> tuple[str, ...]:
    code = Path(path).read_text()
    folder = posixpath.dirname(Path(path).relative_to(dist_dir()).as_posix())
    return tuple(posixpath.normpath(posixpath.join(folder, found)) for found in _STATIC_IMPORT.findall(code))


def widget_preload() -> list[str]:
    """Shared chunks the widget imports statically, so the loader can fetch them alongside it
    (one round trip instead of two when the chat opens)."""
    file = module_files().get("widget")
    if file is None:
        return []
    path = dist_dir() / file
    try:
        return list(_static_imports(str(path), path.stat().st_mtime))
    except FileNotFoundError:
        return []


def module_files() -> dict[str, str]:
    """Content-hashed file names (relative to /static/dist/) of the built modules."""
    files = manifest()
    return {name: files[f"{name}.js"] for name in MODULES[:-1] if f"{name}.js" in files}


BUTTON_TEXTS = ("weAreOnline", "weAreOffline")
# The colours the loader's button and the widget's first paint use (static/src/widget/styles.ts).
THEME_KEYS = ("buttonColor", "headerBgColor", "headerFontColor", "textColor", "themeColor", "widgetBgColor")


def _button_texts(channel: Channel) -> dict[str, dict[str, str]]:
    """Per locale, only the texts a button needs; the widget reads the rest from channel info."""
    texts: dict[str, dict[str, str]] = {}
    for locale, values in (channel.translations or {}).items():
        if isinstance(values, dict):
            picked = {key: str(values[key]) for key in BUTTON_TEXTS if key in values}
            if picked:
                texts[str(locale)] = picked
    return texts


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
        "preload": widget_preload(),
        "theme": {key: value for key, value in (channel.theme or {}).items() if key in THEME_KEYS},
        "translations": _button_texts(channel),
    }
    config.update(contributions(channel))
    return config


def contributions(channel: Channel) -> dict[str, Any]:
    """The keys other parts of guide add to the loader's config for ``channel``."""
    added: dict[str, Any] = {}
    for contributor in _contributors:
        added.update(contributor(channel))
    return added
