"""Which channel-layer groups each event goes to (``chat.realtime.groups_for``)."""

from __future__ import annotations

from chat import events, realtime

THREAD = {"tenant_id": 1, "thread_id": 10, "channel_id": 20, "customer_id": 30}


def message(**extra):  # type: ignore[no-untyped-def]
    return events.MessageCreated(**THREAD, message_id=5, sequence=1, direction="outbound", author_type="agent", **extra)


def test_every_visible_thread_event_goes_to_the_customer_group_and_the_console():  # type: ignore[no-untyped-def]
    for event in (
        events.ThreadCreated(**THREAD),
        events.ThreadUpdated(**THREAD, changes=("name",)),
        message(),
        events.ContactCreated(**THREAD, contact_id=7),
        events.TypingChanged(**THREAD, is_typing=True, actor="agent", agent_id=3),
    ):
        assert realtime.groups_for(event) == ["tenant.1.console", "customer.30"], event.name


def test_internal_notes_reach_only_the_console():  # type: ignore[no-untyped-def]
    assert realtime.groups_for(message(is_internal=True)) == ["tenant.1.console"]


def test_customer_updates_reach_only_the_console():  # type: ignore[no-untyped-def]
    assert realtime.groups_for(events.CustomerUpdated(tenant_id=1, customer_id=30)) == ["tenant.1.console"]
