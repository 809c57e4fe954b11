"""Validation of message content, per content type.

Content is data, never markup: clients render it as text. These checks keep its
shape predictable for every renderer (widget, console, BYOC middleware).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from chat.errors import InvalidContent
from engage.lib import jsontext

MAX_TEXT = 16_000
MAX_CONTENT_BYTES = 64 * 1024
MAX_ACTIONS = 20
CONTENT_TYPES = (
    "TEXT",
    "QUICK_REPLIES",
    "LIST_PICKER",
    "RICH_LINK",
    "PLUGIN",
    "ADAPTIVE_CARD",
    "POSTBACK",
)


def _text_of(value: Any, where: str, *, required: bool = True) -> str:
    if isinstance(value, dict):
        value = value.get("content")
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidContent(f"{where} must be a non-empty string.")
    if len(value) > MAX_TEXT:
        raise InvalidContent(f"{where} is longer than {MAX_TEXT} characters.")
    return value


def _http_url(value: Any, where: str) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in {"http", "https"}:
        raise InvalidContent(f"{where} must be an http(s) URL.")
    return value


def _actions(payload: dict[str, Any], where: str) -> None:
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions or len(actions) > MAX_ACTIONS:
        raise InvalidContent(f"{where} needs 1–{MAX_ACTIONS} actions.")
    for index, action in enumerate(actions):
        if not isinstance(action, dict):
            raise InvalidContent(f"{where}.actions[{index}] must be an object.")
        _text_of(action.get("text"), f"{where}.actions[{index}].text")
        if "postback" in action and not isinstance(action["postback"], str):
            raise InvalidContent(f"{where}.actions[{index}].postback must be a string.")


def content_validate(content_type: str, content: Any, *, has_attachments: bool = False) -> dict[str, Any]:
    """Returns the normalised ``{text, payload, postback, fallbackText}`` or raises InvalidContent."""
    if content_type not in CONTENT_TYPES:
        raise InvalidContent(f"Unknown content type {content_type!r}.")
    if not isinstance(content, dict):
        raise InvalidContent("Content must be an object.")
    if len(jsontext.dumps_utf8(content)) > MAX_CONTENT_BYTES:  # compact JSON, UTF-8
        raise InvalidContent(f"Content is larger than {MAX_CONTENT_BYTES} bytes.")
    payload = content.get("payload") or {}
    if not isinstance(payload, dict):
        raise InvalidContent("payload must be an object.")
    postback = content.get("postback")
    if postback is not None and not isinstance(postback, str):
        raise InvalidContent("postback must be a string.")
    fallback = content.get("fallbackText")
    if fallback is not None and not isinstance(fallback, str):
        raise InvalidContent("fallbackText must be a string.")
    text = ""
    if content_type == "TEXT":
        text = _text_of(content.get("text", payload.get("text")), "text", required=not has_attachments)
    elif content_type == "QUICK_REPLIES":
        text = _text_of(payload.get("text"), "payload.text")
        _actions(payload, "payload")
    elif content_type == "LIST_PICKER":
        _text_of(payload.get("title"), "payload.title")
        text = _text_of(payload.get("text"), "payload.text", required=False)
        _actions(payload, "payload")
    elif content_type == "RICH_LINK":
        text = _text_of(payload.get("title"), "payload.title")
        _http_url(payload.get("url"), "payload.url")
    elif content_type == "PLUGIN":
        if not isinstance(payload.get("elements"), list):
            raise InvalidContent("payload.elements must be a list.")
    elif content_type == "ADAPTIVE_CARD":
        if payload.get("type") != "AdaptiveCard":
            raise InvalidContent('An adaptive card payload has "type": "AdaptiveCard".')
    elif content_type == "POSTBACK":
        if not postback:
            raise InvalidContent("A postback message needs a postback.")
        text = _text_of(content.get("text", ""), "text", required=False)
    return {
        "text": text,
        "payload": payload,
        "postback": postback,
        "fallbackText": fallback or text,
    }
