"""engage.lib.jsontext: json's values and text, by orjson where it gives the same."""

from __future__ import annotations

import datetime
import json
import math

import pytest

from engage.lib import jsontext

VALUES = [
    {"text": "héllo ✓", "payload": {"n": 1, "f": 1.5, "list": [True, None, "x"]}, "postback": None},
    ["a", 0, -1, 2**63 - 1, {"nested": {"deep": []}}],
    "plain",
]


@pytest.mark.parametrize("value", VALUES)
def test_dumps_writes_compact_json_with_characters_as_they_are(value):  # type: ignore[no-untyped-def]
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert jsontext.dumps(value) == expected
    assert jsontext.dumps_utf8(value) == expected.encode()


def test_what_orjson_refuses_is_written_by_json():  # type: ignore[no-untyped-def]
    assert jsontext.dumps({"big": 2**64, 1: "int key"}) == '{"big":18446744073709551616,"1":"int key"}'
    assert jsontext.dumps({"lone": "\ud800"}) == '{"lone":"\ud800"}'
    with pytest.raises(UnicodeEncodeError):
        jsontext.dumps_utf8({"lone": "\ud800"})  # UTF-8 cannot hold it


def test_datetimes_go_to_default_as_with_json():  # type: ignore[no-untyped-def]
    moment = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsontext.dumps({"at": moment})
    assert jsontext.dumps({"at": moment}, default=str) == '{"at":"2026-11-21 10:00:00+00:00"}'


@pytest.mark.parametrize("value", VALUES)
def test_loads_reads_what_json_reads(value):  # type: ignore[no-untyped-def]
    raw = json.dumps(value, ensure_ascii=False).encode()
    assert jsontext.loads(raw) == json.loads(raw)


def test_integers_beyond_64_bits_are_read_exactly():  # type: ignore[no-untyped-def]
    assert jsontext.loads(b'{"n":123456789012345678901234567890}') == {"n": 123456789012345678901234567890}
    assert jsontext.loads(b'{"n":-18446744073709551617}') == {"n": -18446744073709551617}
    assert jsontext.may_hold_long_integer(b'{"n":9223372036854775807}') is True  # 19 digits: asked of json
    assert jsontext.may_hold_long_integer(b'{"n":922337203685477580}') is False


def test_what_json_reads_and_orjson_refuses_is_read_by_json():  # type: ignore[no-untyped-def]
    assert math.isnan(jsontext.loads(b'{"x":NaN}')["x"])
    with pytest.raises(ValueError):
        jsontext.loads(b"{not json")


@pytest.mark.parametrize(
    "text",
    ['{"type":"ping","ref":7}', '{"n":123456789012345678901234567890}', '{"x":NaN}', "[1, 2]", '"plain"'],
)
def test_loads_of_a_text_reads_what_json_reads_from_it(text):  # type: ignore[no-untyped-def]
    got, expected = jsontext.loads(text.encode(), text), json.loads(text)
    assert repr(got) == repr(expected)  # NaN included


@pytest.mark.parametrize("text", ['\ufeff{"type":"ping"}', '\x00{"a"', "\x00\x00\x00{}", "{not json", ""])
def test_loads_of_a_text_refuses_what_json_refuses_in_it_with_its_error(text):  # type: ignore[no-untyped-def]
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as got:
        jsontext.loads(text.encode(), text)
    assert got.value.msg == expected.value.msg
