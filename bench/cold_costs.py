"""What a piece of a message's work costs after the process was idle (docs/performance.md, "Ninth session").

At 250 messages/s a gateway process sleeps about 3 ms between two messages,
and each message's work then starts with cold caches: what the CPU had of the
code and data is gone, to other processes and to the host's other guests. In
the loaded server, timed pieces cost several times what they cost in a loop
(the seventh session's lesson); this bench shows why, on this machine. Each
piece runs after a sleep of ``gap`` ms, twice in a row: ``first`` is its cost
after the gap, ``again`` its cost right after, warm.

Pieces, each as the gateway does it per message, standalone (no server, no
database): sealing a message's content (AES-256-GCM-SIV, as
``engage.lib.crypto``), decoding a 3.9 KB channel-layer event (msgpack, as
``engage.layers`` did for local members before the ninth session), writing a
push frame's JSON (orjson, as ``chat.gateway.protocol``), and a Python
function building a 40-key dict (the shape of a rendering).

Prints median and p90 in µs per piece and gap. Figures only, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import msgpack
import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

GAPS_MS = (0.0, 0.5, 2.0, 4.0, 10.0)


def _pieces() -> dict[str, Callable[[], object]]:
    cipher = AESGCMSIV(os.urandom(32))
    content = orjson.dumps({"text": "Hello, I would like to change my delivery address."})
    event = {
        "type": "chat.event",
        "event": {
            "event": "message.created",
            "snapshot": {
                part: {f"{part}_{index}": f"value {index} of {part}" for index in range(25)}
                for part in ("message", "thread", "customer", "contact", "assignee")
            },
        },
    }
    payload = msgpack.packb(event, use_bin_type=True)
    frame = {"eventId": "e", "eventType": "MessageCreated", "data": event["event"]["snapshot"]}

    def render() -> dict[str, object]:
        return {f"key{index}": index * 2 for index in range(40)}

    return {
        "seal content (AES-GCM-SIV)": lambda: cipher.encrypt(os.urandom(12), content, b"v2:abcd1234"),
        f"decode event ({len(payload)} B msgpack)": lambda: msgpack.unpackb(payload, raw=False),
        "write frame JSON (orjson)": lambda: orjson.dumps(frame),
        "Python: build a 40-key dict": render,
    }


def measure(piece: Callable[[], object], gap_ms: float, rounds: int) -> tuple[list[float], list[float]]:
    first, again = [], []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        if gap_ms:
            time.sleep(gap_ms / 1000)
        start = clock()
        piece()
        middle = clock()
        piece()
        end = clock()
        first.append((middle - start) / 1000)
        again.append((end - middle) / 1000)
    return first, again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400, help="runs of each piece at each gap")
    parser.add_argument("--quick", action="store_true", help="100 rounds")
    arguments = parser.parse_args()
    rounds = 100 if arguments.quick else arguments.rounds
    print(f"µs per run, median / p90 over {rounds} rounds; 'first' after sleeping the gap, 'again' right after")
    print(f"{'piece':<34}{'gap ms':>8}{'first':>16}{'again':>16}{'first ÷ again':>15}")
    for name, piece in _pieces().items():
        for _ in range(200):  # warm: imports, first calls
            piece()
        for gap in GAPS_MS:
            first, again = measure(piece, gap, rounds)
            cold, warm = statistics.median(first), statistics.median(again)
            print(
                f"{name:<34}{gap:>8.1f}{cold:>9.1f} / {statistics.quantiles(first, n=10)[-1]:<5.1f}"
                f"{warm:>9.1f} / {statistics.quantiles(again, n=10)[-1]:<5.1f}{cold / warm:>11.1f}×"
            )


if __name__ == "__main__":
    main()
