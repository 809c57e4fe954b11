"""Subscribers of the chat app, registered in ``ChatConfig.ready``."""

from chat import assignment, events, realtime
from engage.events import AccessChanged, PresenceChanged, subscribe
from engage.lib.cached_settings import setting


def register() -> None:
    realtime.register()
    # Agents' consoles show each other's presence.
    subscribe(PresenceChanged, realtime.fan_out)
    # Open consoles read their agent's rights again when queues, channels or roles change.
    subscribe(AccessChanged, realtime.fan_out)
    # Routing: a new contact, freed capacity or an agent becoming available.
    subscribe(events.ContactCreated, assignment.on_contact_created)
    subscribe(events.ContactStatusChanged, assignment.on_contact_status_changed)
    subscribe(events.ContactAssigned, assignment.on_contact_assigned)
    subscribe(PresenceChanged, assignment.on_presence_changed)
    # Signing out makes an agent offline (the auth framework's own hook).
    from django.contrib.auth.signals import user_logged_out

    from chat.console.views import agent_signed_out

    user_logged_out.connect(agent_signed_out, dispatch_uid="parley-agent-signed-out")
    # Search: index messages in Elasticsearch, after commit, through Celery.
    subscribe(events.MessageCreated, search_index_message)


def search_index_message(event: events.MessageCreated) -> None:
    from chat.tasks import message_index

    if _search_indexes(event):
        message_index.delay(event.message_id)


# Skipped without a thread switch when a message is written from the event loop (engage.events.dispatch_in_loop).
def _search_indexes(event: events.MessageCreated) -> bool:
    return setting("SEARCH_BACKEND") == "elasticsearch" and not event.is_internal


# Skipped without a thread switch when a message is written from the event loop (engage.events.dispatch_in_loop).
search_index_message.applies = _search_indexes  # type: ignore[attr-defined]
