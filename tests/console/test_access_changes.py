"""Open consoles follow the administrator's changes of queues, channels and roles.

A change publishes ``AccessChanged`` (``engage.signals``); a console whose agent's role or
readable channels differ from those read at its handshake closes with 4409, and the client
reconnects and reads its lists again (docs/agent-protocol.md).
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.db import transaction

from chat.console import protocol
from engage.events import AccessChanged
from engage.models import Channel, Membership, RoutingQueue
from tests.console.helpers import welcomed_console

pytestmark = pytest.mark.usefixtures("own_cache")


def _access_changes(published) -> list[int]:  # type: ignore[no-untyped-def]
    return [event.tenant_id for event in published if isinstance(event, AccessChanged)]


def _channel(cast, channel_id: str = "chat_new") -> Channel:  # type: ignore[no-untyped-def]
    return Channel.objects.create(tenant=cast.tenant, brand=cast.brand, channel_id=channel_id, name="New")


# -- what publishes ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_queue_agents_and_channels_changes_publish(acme, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        acme.queue.agents.remove(acme.bob)
        acme.bob.queues.add(acme.queue)  # from the other side
        acme.queue.channels.remove(acme.live)
        acme.queue.channels.clear()
    assert _access_changes(published) == [acme.tenant.pk] * 4


@pytest.mark.django_db
def test_queues_channels_and_memberships_added_or_removed_publish(acme, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        queue = RoutingQueue.objects.create(tenant=acme.tenant, name="Returns")
        channel = _channel(acme)
        channel.delete()
        queue.delete()
        acme.bob.delete()
    assert _access_changes(published) == [acme.tenant.pk] * 5


@pytest.mark.django_db
def test_a_role_change_publishes_and_a_presence_change_does_not(acme, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        acme.bob.presence = Membership.Presence.AVAILABLE
        acme.bob.save(update_fields=["presence", "presence_changed_at"])
        acme.bob.role = Membership.Role.ADMIN
        acme.bob.save(update_fields=["role"])
        acme.bob.max_concurrent_contacts = 5
        acme.bob.save()  # Django admin saves every field
    assert _access_changes(published) == [acme.tenant.pk] * 2


@pytest.mark.django_db
def test_renaming_a_channel_or_queue_does_not_publish(acme, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        acme.messaging.name = "Renamed"
        acme.messaging.save()
        acme.queue.name = "Renamed"
        acme.queue.save()
    assert _access_changes(published) == []


# -- what an open console does ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_an_agent_added_to_a_queue_of_a_new_channel_reconnects(acme):
    console = await welcomed_console(acme.alice.user)

    channel = await database_sync_to_async(_channel)(acme)  # in no queue of hers: nothing changes
    assert await console.receive_nothing(timeout=0.5)

    await database_sync_to_async(acme.queue.channels.add)(channel)
    assert await console.receive_output(timeout=5) == {"type": "websocket.close", "code": 4409}


@pytest.mark.django_db(transaction=True)
async def test_an_agent_removed_from_the_queue_reconnects(acme):
    console = await welcomed_console(acme.alice.user)

    await database_sync_to_async(acme.queue.agents.remove)(acme.alice)

    assert await console.receive_output(timeout=5) == {
        "type": "websocket.close",
        "code": protocol.CLOSE_MEMBERSHIP_CHANGED,
    }


@pytest.mark.django_db(transaction=True)
async def test_an_administrator_console_reconnects_for_a_new_channel(acme):
    console = await welcomed_console(acme.admin.user)

    await database_sync_to_async(_channel)(acme)

    assert await console.receive_output(timeout=5) == {"type": "websocket.close", "code": 4409}


@pytest.mark.django_db(transaction=True)
async def test_a_role_change_reconnects(acme):
    console = await welcomed_console(acme.bob.user)

    def promote() -> None:
        acme.bob.role = Membership.Role.ADMIN
        acme.bob.save(update_fields=["role"])

    await database_sync_to_async(promote)()

    assert await console.receive_output(timeout=5) == {"type": "websocket.close", "code": 4409}


@pytest.mark.django_db(transaction=True)
async def test_acme_changes_never_touch_a_globex_console(acme, globex):
    globex_console = await welcomed_console(globex.admin.user)
    acme_console = await welcomed_console(acme.admin.user)

    await database_sync_to_async(_channel)(acme)

    assert await acme_console.receive_output(timeout=5) == {"type": "websocket.close", "code": 4409}
    assert await globex_console.receive_nothing(timeout=0.5)
    await globex_console.send_json_to({"type": "ping", "ref": 1})
    assert await globex_console.receive_json_from(timeout=5) == {"type": "pong", "ref": 1}
    await globex_console.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_burst_of_changes_reads_the_rights_a_few_times_not_once_each(acme, monkeypatch):
    """A bulk change in Django admin sends one AccessChanged per row: a console reads its
    agent's rights once more after the read under way, not once per change."""
    from chat.console import consumer

    reads = []
    read = consumer._rights_now

    async def counted(agent):  # type: ignore[no-untyped-def]
        reads.append(agent.pk)
        return await read(agent)

    monkeypatch.setattr(consumer, "_rights_now", counted)
    console = await welcomed_console(acme.alice.user)

    def many_channels() -> None:  # in no queue of hers: her rights do not change
        with transaction.atomic():  # as Django admin's bulk actions: the events come at its commit
            for number in range(20):
                _channel(acme, f"chat_bulk_{number}")

    await database_sync_to_async(many_channels)()

    assert await console.receive_nothing(timeout=1.0)
    assert 1 <= len(reads) <= 4  # one per change would be 20
    await console.send_json_to({"type": "ping", "ref": 1})
    assert await console.receive_json_from(timeout=5) == {"type": "pong", "ref": 1}
    await console.disconnect()
