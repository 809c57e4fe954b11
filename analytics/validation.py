"""Parsing and validation of ingestion payloads (docs/analytics.md, "Ingestion").

Every field is typed and size-limited here, and everything PostgreSQL would
refuse (NUL characters, lone surrogates) is refused here too, so a batch that
reaches the writer cannot fail on its data. Times come from the browser's clock
and are corrected by the difference between its ``sentAt`` and the server's now.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

MAX_BODY_BYTES = 64 * 1024
MAX_EVENTS = 50
MAX_URL = 2048
MAX_TITLE = 300
MAX_NAME = 64
MAX_DATA_BYTES = 2048
MAX_DATA_KEYS = 20
MAX_TIME_ON_PAGE_MS = 24 * 3600 * 1000
MAX_EVENT_AGE_MS = 24 * 3600 * 1000

EVENT_KINDS = frozenset(
    {
        "chat_shown",
        "chat_engaged",
        "trigger_activated",
        "trigger_executed",
        "button_shown",
        "button_clicked",
        "button_dismissed",
        "invitation_shown",
        "invitation_accepted",
        "invitation_dismissed",
        "offer_response",
        "custom",
    }
)
_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
_NAME = re.compile(r"[A-Za-z0-9_.:-]{0,64}")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class Invalid(Exception):
    """The payload is invalid; ``message`` names the field and the reason."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclasses.dataclass(frozen=True, slots=True)
class PageViewRow:
    public_id: str
    url: str
    title: str
    referrer: str
    viewed_at_ms: int
    time_on_page_ms: int


@dataclasses.dataclass(frozen=True, slots=True)
class EventRow:
    kind: str
    name: str
    page_view_id: str
    occurred_at_ms: int
    data_json: str


@dataclasses.dataclass(frozen=True, slots=True)
class Batch:
    """What one request adds: rows of one visit of one visitor."""

    visitor: str
    visit: str
    page_views: tuple[PageViewRow, ...]
    events: tuple[EventRow, ...]

    @property
    def size(self) -> int:
        return len(self.page_views) + len(self.events)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise Invalid(f"The body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        payload = json.loads(body, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Invalid("The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise Invalid("The body is a JSON object.")
    return payload


def _id(value: Any, field: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise Invalid(f"{field}: 8 to 64 letters, digits, '-' or '_'.")
    return value


def _text(value: Any, field: str, limit: int, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise Invalid(f"{field}: a string.")
    if len(value) > limit:
        raise Invalid(f"{field}: at most {limit} characters.")
    if _UNSTORABLE.search(value):
        raise Invalid(f"{field}: contains characters that cannot be stored.")
    return value


def _url(value: Any, field: str, *, required: bool) -> str:
    if required and value in (None, ""):
        raise Invalid(f"{field}: required.")
    text = _text(value, field, MAX_URL)
    if text and not (text.startswith("https://") or text.startswith("http://")):
        raise Invalid(f"{field}: an http(s) URL.")
    return text


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise Invalid(f"{field}: a number.")
    number = int(value)
    if not low <= number <= high:
        raise Invalid(f"{field}: from {low} to {high}.")
    return number


class _Clock:
    """Maps browser times to server times with the offset of ``sentAt``."""

    def __init__(self, sent_at: Any, now_ms: int) -> None:
        self.sent_at = _int(sent_at, "sentAt", 0, 2**53)
        self.offset = now_ms - self.sent_at

    def at(self, value: Any, field: str) -> int:
        at = _int(value, field, self.sent_at - MAX_EVENT_AGE_MS, self.sent_at)
        return at + self.offset


def _page_view(item: dict[str, Any], field: str, clock: _Clock, public_id: str | None = None) -> PageViewRow:
    return PageViewRow(
        public_id=public_id or _id(item.get("id"), f"{field}.id"),
        url=_url(item.get("url"), f"{field}.url", required=True),
        title=_text(item.get("title"), f"{field}.title", MAX_TITLE),
        referrer=_url(item.get("referrer") or None, f"{field}.referrer", required=False),
        viewed_at_ms=clock.at(item.get("at"), f"{field}.at"),
        time_on_page_ms=_int(item.get("timeOnPage", 0), f"{field}.timeOnPage", 0, MAX_TIME_ON_PAGE_MS),
    )


def _data(value: Any, field: str) -> str:
    if value is None:
        return "{}"
    if not isinstance(value, dict) or len(value) > MAX_DATA_KEYS:
        raise Invalid(f"{field}: an object of at most {MAX_DATA_KEYS} keys.")
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DATA_BYTES:
        raise Invalid(f"{field}: at most {MAX_DATA_BYTES} bytes of JSON.")
    if _UNSTORABLE.search(text) or "\\u0000" in text:
        raise Invalid(f"{field}: contains characters that cannot be stored.")
    return text


def _event(item: dict[str, Any], field: str, clock: _Clock) -> EventRow:
    kind = item.get("type")
    if kind not in EVENT_KINDS:
        raise Invalid(f"{field}.type: one of page_view, {', '.join(sorted(EVENT_KINDS))}.")
    name = item.get("name", "")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise Invalid(f"{field}.name: up to {MAX_NAME} letters, digits or '_.:-'.")
    return EventRow(
        kind=kind,
        name=name,
        page_view_id=_id(item.get("pageView"), f"{field}.pageView", required=False),
        occurred_at_ms=clock.at(item.get("at"), f"{field}.at"),
        data_json=_data(item.get("data"), f"{field}.data"),
    )


def batch_from_events(payload: dict[str, Any], *, now_ms: int) -> Batch:
    """POST …/events: ``{visitor, visit, sentAt, events: [{type, at, …}]}``."""
    visitor, visit = _id(payload.get("visitor"), "visitor"), _id(payload.get("visit"), "visit")
    clock = _Clock(payload.get("sentAt"), now_ms)
    items = payload.get("events")
    if not isinstance(items, list) or not 0 < len(items) <= MAX_EVENTS:
        raise Invalid(f"events: a list of 1 to {MAX_EVENTS} events.")
    page_views: list[PageViewRow] = []
    events: list[EventRow] = []
    for index, item in enumerate(items):
        field = f"events[{index}]"
        if not isinstance(item, dict):
            raise Invalid(f"{field}: an object.")
        if item.get("type") == "page_view":
            page_views.append(_page_view(item, field, clock))
        else:
            events.append(_event(item, field, clock))
    return Batch(visitor, visit, tuple(page_views), tuple(events))


def batch_from_page_view(payload: dict[str, Any], *, public_id: str, now_ms: int) -> Batch:
    """PUT …/page-views/{id}: the page view as it stands now (time on page grows)."""
    page_view_id = _id(public_id, "id")
    visitor, visit = _id(payload.get("visitor"), "visitor"), _id(payload.get("visit"), "visit")
    clock = _Clock(payload.get("sentAt"), now_ms)
    row = _page_view(payload, "pageView", clock, public_id=page_view_id)
    return Batch(visitor, visit, (row,), ())
