import dataclasses
from typing import ClassVar

import pytest
from django.db import transaction

from engage import events


@dataclasses.dataclass(frozen=True, kw_only=True)
class Pinged(events.Event):
    name: ClassVar[str] = "test.pinged"
    value: int


def test_event_is_delivered_after_commit_not_before(transactional_db, published):
    with transaction.atomic():
        events.publish(Pinged(tenant_id=1, value=7))
        assert published == []
    assert published == [Pinged(tenant_id=1, value=7)]


def test_event_is_never_delivered_on_rollback(transactional_db, published):
    with pytest.raises(RuntimeError), transaction.atomic():
        events.publish(Pinged(tenant_id=1, value=7))
        raise RuntimeError("boom")
    assert published == []


def test_event_outside_a_transaction_is_delivered_at_once(transactional_db, published):
    events.publish(Pinged(tenant_id=3, value=1))
    assert published == [Pinged(tenant_id=3, value=1)]


def test_a_failing_subscriber_does_not_stop_the_others(transactional_db, published):
    def broken(event):
        raise ValueError("subscriber bug")

    events.subscribe(Pinged, broken)
    try:
        events.publish(Pinged(tenant_id=1, value=2))
    finally:
        events.unsubscribe(Pinged, broken)
    assert published == [Pinged(tenant_id=1, value=2)]


def test_event_dict_carries_its_wire_name():
    assert Pinged(tenant_id=1, value=2).as_dict() == {"event": "test.pinged", "tenant_id": 1, "value": 2}


def test_dispatch_in_the_loop_runs_loop_safe_subscribers_and_returns_the_rest():  # type: ignore[no-untyped-def]
    from engage.events import dispatch_in_loop, loop_safe, subscribe, unsubscribe

    seen: list[str] = []

    @loop_safe
    def in_loop(event):  # type: ignore[no-untyped-def]
        seen.append("loop")

    def blocking(event):  # type: ignore[no-untyped-def]
        seen.append("worker")

    def idle(event):  # type: ignore[no-untyped-def]
        seen.append("idle")

    idle.applies = lambda event: False  # type: ignore[attr-defined]
    for handler in (in_loop, blocking, idle):
        subscribe(events.PresenceChanged, handler)
    try:
        event = events.PresenceChanged(
            tenant_id=1, membership_id=2, presence="online", previous_presence="offline", max_concurrent_contacts=3
        )
        rest = dispatch_in_loop(event)
        assert seen == ["loop"]
        assert rest is not None
        rest()
        assert seen == ["loop", "worker"]
    finally:
        for handler in (in_loop, blocking, idle):
            unsubscribe(events.PresenceChanged, handler)


def test_as_dict_shares_the_values_instead_of_copying_them():  # type: ignore[no-untyped-def]
    from chat.events import MessageCreated

    snapshot = {"message": {"id": 1, "text": "hello"}}
    event = MessageCreated(
        tenant_id=1, thread_id=2, channel_id=3, customer_id=4, message_id=5, sequence=6,
        direction="inbound", author_type="customer", is_internal=False, snapshot=snapshot,
    )  # fmt: skip
    wire = event.as_dict()
    assert wire["event"] == "message.created"
    assert wire["snapshot"] is snapshot
    assert {key: wire[key] for key in ("tenant_id", "thread_id", "message_id", "sequence")} == {
        "tenant_id": 1,
        "thread_id": 2,
        "message_id": 5,
        "sequence": 6,
    }


def _event_types(base: type[events.Event]) -> list[type[events.Event]]:
    found = []
    for subclass in base.__subclasses__():
        found += [subclass, *_event_types(subclass)]
    return found


def test_every_event_types_dict_is_its_fields_in_their_order():
    import chat.events  # noqa: F401 - its event types are subclasses

    types = _event_types(events.Event)
    assert {"message.created", "thread.updated", "presence.changed"} <= {event_type.name for event_type in types}
    for event_type in types:
        values = {field.name: f"{field.name} value" for field in dataclasses.fields(event_type)}
        wire = event_type(**values).as_dict()  # type: ignore[arg-type]
        assert list(wire) == ["event", *values], event_type
        assert wire == {"event": event_type.name, **values}
