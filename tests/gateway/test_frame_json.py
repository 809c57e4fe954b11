"""Frames are read and written by orjson: the same values and error frames as with json, or stricter."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import json
import uuid
from typing import Any

import pytest
from django.utils.translation import gettext_lazy

from chat.console.rendering import console_dumps
from chat.gateway.protocol import ClientFrame, ProtocolError, cxone_dumps, cxone_parse_frame, cxone_push


def _frame(data: str) -> str:
    return '{"action":"chatWindowEvent","eventId":"e1","payload":{"eventType":"SendMessage","data":' + data + "}}"


def _data(text: str) -> Any:
    frame = cxone_parse_frame(text)
    assert isinstance(frame, ClientFrame)
    return frame.data


@pytest.mark.parametrize(
    "data",
    [
        '{"a":1,"a":2}',  # the last of duplicate keys wins, as with json
        '{"big":123456789012345678901234567890,"neg":-9223372036854775809,"u64":18446744073709551616}',
        '{"in_text":"12345678901234567890123","n":1.5e300,"m":-0.0,"z":0,"e":1E5}',
        '{"s":"\\ud83d\\ude00 caf\\u00e9 \\u2028","t":"ça va 👋","esc":"\\"\\\\\\/\\b\\f\\n\\r\\t"}',
        '{"deep":' + "[" * 500 + "]" * 500 + "}",
        "null",
    ],
)
def test_well_formed_frames_read_as_json_reads_them(data):  # type: ignore[no-untyped-def]
    expected = json.loads(data)
    got = _data(_frame(data))
    assert got == (expected if expected is not None else {})
    assert repr(got) == repr(expected if expected is not None else {})  # ints stay ints, exactly


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "The frame is not JSON."),
        ("", "The frame is not JSON."),
        ('{"action":"heartbeat"} x', "The frame is not JSON."),
        ('\ufeff{"action":"heartbeat"}', "The frame is not JSON."),
        ('{"a":"\x01"}', "The frame is not JSON."),
        ("[1, 2]", "A frame is a JSON object."),
        ('"pong"', "A frame is a JSON object."),
        ("12345678901234567890123", "A frame is a JSON object."),
        # json read these; they are not JSON (RFC 8259) and no client sends them: refused the same way.
        (_frame('{"n":NaN}'), "The frame is not JSON."),
        (_frame('{"n":Infinity}'), "The frame is not JSON."),
        (_frame('{"n":-Infinity,"big":12345678901234567890123}'), "The frame is not JSON."),
        (_frame('{"n":1e400}'), "The frame is not JSON."),
        (_frame('{"s":"\\ud800"}'), "The frame is not JSON."),
        (_frame('{"s":"\\udc00 12345678901234567890123"}'), "The frame is not JSON."),
        # json raised RecursionError here (no error frame); now an error frame.
        (_frame('{"deep":' + "[" * 5000 + "]" * 5000 + "}"), "The frame is not JSON."),
    ],
)
def test_malformed_frames_are_refused_with_the_same_error(text, message):  # type: ignore[no-untyped-def]
    with pytest.raises(ProtocolError) as refused:
        cxone_parse_frame(text)
    assert (refused.value.reason, refused.value.message) == ("malformed_frame", message)


def test_other_refusals_are_unchanged():  # type: ignore[no-untyped-def]
    with pytest.raises(ProtocolError) as binary:
        cxone_parse_frame(b'{"action":"heartbeat"}')
    assert binary.value.reason == "binary_frame"
    with pytest.raises(ProtocolError) as unknown:
        cxone_parse_frame('{"action":"dance","eventId":"e9","payload":{"eventType":"X"}}')
    assert (unknown.value.reason, unknown.value.event_id, unknown.value.event_type) == ("unknown_action", "e9", "X")


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


FRAMES = [
    cxone_push(
        "MessageCreated",
        "Message",
        {
            "text": 'Bonjour ça va ? 👋 \u2028 \x00\x1f\x7f "quoted" \\ </script>',
            "n": [0, -1, 2**63 - 1, -(2**63), 2**64 - 1, 1.5, -0.0, 1e16, 1e22, 123456789.123, True, False, None],
            "nested": {"a": {"b": [{"c": []}, {}]}, "": ""},
        },
    ),
    "pong",
    {"eventId": "e", "postback": {"eventType": "ThreadListFetched", "data": {"threads": []}}},
]


@pytest.mark.parametrize("frame", FRAMES)
def test_cxone_dumps_writes_what_json_wrote(frame):  # type: ignore[no-untyped-def]
    assert cxone_dumps(frame) == _compact(frame)


def test_floats_are_the_same_numbers_and_nan_becomes_null():  # type: ignore[no-untyped-def]
    values = [1e-05, 1e-7, 5e-324, 1.7976931348623157e308, 0.1]
    assert json.loads(cxone_dumps({"f": values})) == {"f": values}
    assert cxone_dumps({"f": float("nan"), "g": float("inf")}) == '{"f":null,"g":null}'


@pytest.mark.parametrize(
    "frame",
    [
        {1: "int key", None: "none key", False: "bool key", 1.5: "float key"},
        {"big": 2**64, "neg": -(2**63) - 1, "huge": 10**40},
        {"lone": "\ud800"},
    ],
)
def test_what_orjson_refuses_is_written_by_json(frame):  # type: ignore[no-untyped-def]
    assert cxone_dumps(frame) == _compact(frame)


@dataclasses.dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [
        datetime.datetime(2026, 11, 21, tzinfo=datetime.UTC),
        datetime.date(2026, 11, 21),
        decimal.Decimal("1.5"),
        gettext_lazy("Hello"),
        Point(1),
        {1, 2},
        object(),
    ],
)
def test_what_json_refused_is_still_refused(value):  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError):
        _compact({"v": value})
    with pytest.raises(TypeError):
        cxone_dumps({"v": value})


def _console_json(frame: Any) -> str:
    return json.dumps(frame, default=str, separators=(",", ":"))


@pytest.mark.parametrize(
    "frame",
    [
        *FRAMES,
        {"type": "event", "event": {"at": datetime.datetime(2026, 11, 21, 10, 0, 1, 5, tzinfo=datetime.UTC)}},
        {"type": "x", "d": decimal.Decimal("1.50"), "u": uuid.UUID(int=5), "p": Point(2), "l": gettext_lazy("Hi")},
        {"type": "x", 1: "int key", "big": 2**70},
    ],
)
def test_console_dumps_gives_the_same_json_values_as_before(frame):  # type: ignore[no-untyped-def]
    assert json.loads(console_dumps(frame)) == json.loads(_console_json(frame))


def test_a_new_event_id_is_a_random_version_4_uuid_as_text():
    import uuid

    from chat.gateway.protocol.frames import new_event_id

    ids = [new_event_id() for _ in range(2000)]
    parsed = [uuid.UUID(text) for text in ids]
    assert [str(value) for value in parsed] == ids
    assert {(value.version, value.variant) for value in parsed} == {(4, uuid.RFC_4122)}
    assert len(set(ids)) == 2000
    assert {text[14] for text in ids} == {"4"} and {text[19] for text in ids} == set("89ab")
