"""Compact JSON text as ``json.dumps(value, separators=(",", ":"), ensure_ascii=False)`` writes it,
done by orjson (several times faster, and one C call on the hot paths: frames, stored contents).

The values are json's; the text differs only where JSON allows it: floats in another equal form
(``0.00001`` for ``1e-05``), and NaN or infinities, which no JSON holds, become ``null`` (json
wrote ``NaN``, which no client parses). Datetimes and dataclasses go to ``default`` as with json
(orjson's own forms for them differ). What orjson refuses (keys other than strings, integers beyond
64 bits, lone surrogates) goes to json itself, which writes or refuses it as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, default: Callable[[Any], Any] | None = None) -> str:
    """The compact JSON text of ``value``; ``default`` as json's (TypeError when None)."""
    try:
        return orjson.dumps(value, default=default or _not_json, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, default=default, separators=(",", ":"), ensure_ascii=False)


def dumps_utf8(value: Any) -> bytes:
    """``dumps(value)`` in UTF-8, without a copy on orjson's way (UnicodeEncodeError for a lone
    surrogate, which UTF-8 cannot hold)."""
    try:
        return orjson.dumps(value, default=_not_json, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# A run of 19 digits may be an integer beyond 64 bits, which orjson reads as a float.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


def may_hold_long_integer(raw: bytes) -> bool:
    """Whether ``raw`` may hold an integer beyond 64 bits (a run of 19 digits), which only json
    reads exactly."""
    return _LONG_NUMBER in raw.translate(_DIGITS_TO_ZERO)


def loads(raw: bytes, text: str | None = None) -> Any:
    """``json.loads(raw)``'s values, by orjson where it reads the same: json itself for a text
    that may hold an integer beyond 64 bits, or that orjson refuses and json reads (``NaN``).

    ``text``: ``raw`` as the text it came as; then json's values and errors are those of
    ``json.loads(text)``, which refuses what it refuses in text (a byte order mark, a NUL),
    where from bytes it would read (a byte order mark) or fail with UnicodeDecodeError (NULs)."""
    if may_hold_long_integer(raw):
        return json.loads(raw if text is None else text)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw if text is None else text)
