"""The one write path of conversations.

Every change to customers, threads, contacts and messages goes through a
function here, whichever adapter asked: the visitor gateway, the agent console,
the REST API or BYOC. Each validates, writes in one transaction, and publishes
a typed event (``chat.events``) after commit, never on rollback.
See docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import functools
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from chat import _sql, events
from chat.content import content_validate
from chat.errors import (
    ContactClosed,
    InvalidContent,
    InvalidTransition,
    NotYourTenant,
    ThreadLimitReached,
    ThreadLocked,
    ThreadNotFound,
)
from chat.models import Attachment, Contact, Customer, Message, Thread
from chat.snapshots import message_snapshot, message_snapshot_plain
from engage.custom_fields import custom_fields_validate
from engage.errors import InvalidInput
from engage.events import dispatch_in_loop, publish
from engage.lib import aiodb, loops
from engage.models import Brand, Channel, CustomFieldDefinition, Membership, RoutingQueue

logger = logging.getLogger(__name__)

MAX_CLIENT_ID = 200
MAX_THREAD_NAME = 200


@dataclasses.dataclass(frozen=True)
class MessageResult:
    """The message, and whether this call created it (False: a retry found the original)."""

    message: Message
    created: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Written:
    """A message the event loop wrote (``amessage_create``, ``areply_create``): no instance is
    built, only what its MessageCreated carried (``chat.snapshots``)."""

    snapshot: dict[str, Any]


def _thread_fields(thread: Thread) -> dict[str, int]:
    return {
        "tenant_id": thread.tenant_id,
        "thread_id": thread.pk,
        "channel_id": thread.channel_id,
        "customer_id": thread.customer_id,
    }


def _same_tenant(*objects: Any) -> None:
    tenants = {obj.tenant_id for obj in objects if obj is not None}
    if len(tenants) > 1:
        raise NotYourTenant("Not found.")


# --- Customers ----------------------------------------------------------------


def customer_identify(
    *,
    brand: Brand,
    id_on_external_platform: str,
    first_name: str | None = None,
    last_name: str | None = None,
    email: str | None = None,
    image: str | None = None,
    verified: bool = False,
) -> Customer:
    """Finds or creates the brand's customer with this id and updates the given names.

    Safe under concurrent first contacts: the unique (brand, id) constraint decides.
    A verified customer stays verified; ``verified`` never downgrades it.
    """
    external_id = str(id_on_external_platform or "").strip()
    if not external_id or len(external_id) > MAX_CLIENT_ID:
        raise InvalidInput("A customer id of 1–200 characters is required.")
    updates = {
        key: value[:120] if key in {"first_name", "last_name"} else value
        for key, value in {"first_name": first_name, "last_name": last_name, "email": email, "image": image}.items()
        if isinstance(value, str) and value
    }
    try:
        with transaction.atomic():
            customer, created = Customer.objects.get_or_create(
                brand=brand,
                id_on_external_platform=external_id,
                defaults={"tenant_id": brand.tenant_id, "is_verified": verified, **updates},
            )
    except IntegrityError:
        customer, created = Customer.objects.get(brand=brand, id_on_external_platform=external_id), False
    if created:
        return customer
    changed = [key for key, value in updates.items() if getattr(customer, key) != value]
    for key in changed:
        setattr(customer, key, updates[key])
    if verified and not customer.is_verified:
        customer.is_verified = True
        changed.append("is_verified")
    customer.last_seen_at = timezone.now()
    customer.save(update_fields=[*changed, "last_seen_at"])
    if changed:
        publish(events.CustomerUpdated(tenant_id=customer.tenant_id, customer_id=customer.pk))
    return customer


def customer_update(
    *, customer: Customer, values: Mapping[str, Any] | None = None, custom_fields: Any = None
) -> Customer:
    """Updates names, e-mail, image, extra values and custom fields (validated per definition)."""
    fields: list[str] = []
    for key, limit in (("first_name", 120), ("last_name", 120), ("email", 254), ("image", 500)):
        value = (values or {}).get(key)
        if isinstance(value, str) and getattr(customer, key) != value[:limit]:
            setattr(customer, key, value[:limit])
            fields.append(key)
    extra = (values or {}).get("extra")
    if isinstance(extra, Mapping):
        merged = {**customer.extra, **{str(k)[:64]: str(v)[:500] for k, v in extra.items()}}
        if len(merged) > 50:
            raise InvalidInput("At most 50 extra values per customer.")
        customer.extra = merged
        fields.append("extra")
    if custom_fields is not None:
        cleaned = custom_fields_validate(
            tenant=customer.tenant, scope=CustomFieldDefinition.Scope.CUSTOMER, values=custom_fields
        )
        customer.custom_fields = {**customer.custom_fields, **cleaned}
        fields.append("custom_fields")
    if fields:
        customer.save(update_fields=fields)
        publish(events.CustomerUpdated(tenant_id=customer.tenant_id, customer_id=customer.pk))
    return customer


# --- Threads ------------------------------------------------------------------


def thread_get_or_create(
    *,
    channel: Channel,
    customer: Customer,
    public_id: str | None = None,
    name: str = "",
    context: Mapping[str, Any] | None = None,
) -> tuple[Thread, bool]:
    """The customer's thread with this public id on this channel, created if new.

    A public id that belongs to another customer answers ThreadNotFound: an id
    never reaches another customer's thread. On a single-thread channel a
    customer gets one thread; asking for a second raises ThreadLimitReached
    (on a live-chat channel: while the first one's session is still open).
    """
    _same_tenant(channel, customer)
    if customer.brand_id != channel.brand_id:
        raise NotYourTenant("Not found.")
    public_id = str(public_id).strip() if public_id else None
    if public_id is not None and not (0 < len(public_id) <= MAX_CLIENT_ID):
        raise InvalidInput("A thread id has 1–200 characters.")
    if public_id:
        existing = Thread.objects.filter(channel=channel, public_id=public_id).first()
        if existing is not None:
            if existing.customer_id != customer.pk:
                raise ThreadNotFound()
            return existing, False
    if not channel.multi_thread and _single_thread_taken(channel, customer):
        raise ThreadLimitReached()
    defaults: dict[str, Any] = {"name": (name or "")[:MAX_THREAD_NAME], "context": dict(context or {})}
    if public_id:
        defaults["public_id"] = public_id
    try:
        with transaction.atomic():
            thread = Thread.objects.create(tenant_id=channel.tenant_id, channel=channel, customer=customer, **defaults)
            publish(events.ThreadCreated(**_thread_fields(thread)))
    except IntegrityError:
        # A concurrent request created the same public id first.
        existing = Thread.objects.filter(channel=channel, public_id=public_id).first()
        if existing is None or existing.customer_id != customer.pk:
            raise ThreadNotFound() from None
        return existing, False
    return thread, True


def _single_thread_taken(channel: Channel, customer: Customer) -> bool:
    threads = Thread.objects.filter(channel=channel, customer=customer)
    if channel.is_live_chat:
        # A live chat is one session at a time: once its contact has ended, a new session may start;
        # a thread whose session has not started yet (no contact) still counts.
        threads = threads.filter(Q(contacts__status__in=Contact.OPEN_STATUSES) | Q(contacts__isnull=True))
    return threads.exists()


def _thread_update(thread: Thread, changes: dict[str, Any]) -> Thread:
    changed = [field for field, value in changes.items() if getattr(thread, field) != value]
    if not changed:
        return thread
    with transaction.atomic():
        for field in changed:
            setattr(thread, field, changes[field])
        thread.save(update_fields=[*changed, "updated_at"])
        publish(events.ThreadUpdated(**_thread_fields(thread), changes=tuple(changed)))
    return thread


def thread_rename(*, thread: Thread, name: str) -> Thread:
    """Sets the thread's name (trimmed, at most 200 characters); publishes ThreadUpdated."""
    if not isinstance(name, str):
        raise InvalidInput("A thread name is a string.")
    return _thread_update(thread, {"name": name.strip()[:MAX_THREAD_NAME]})


def thread_set_locked(*, thread: Thread, locked: bool, by: Membership | None = None) -> Thread:
    """Locks or unlocks a messaging thread. A locked thread takes no customer messages."""
    _same_tenant(thread, by)
    return _thread_update(thread, {"is_locked": bool(locked)})


def thread_set_archived(*, thread: Thread, archived: bool = True) -> Thread:
    """Archives (hides from the customer's thread list) or restores a thread."""
    return _thread_update(thread, {"is_archived": bool(archived)})


def thread_update_context(*, thread: Thread, context: Mapping[str, Any]) -> Thread:
    """Merges visitor context (current page, page trail, custom variables) into the thread.

    Merges into the stored context under a row lock, so concurrent writers of
    different keys (the gateway's page views, guide's subscribers) never lose each other's.
    """
    with transaction.atomic():
        locked = Thread.objects.select_for_update().get(pk=thread.pk)
        updated = _thread_update(locked, {"context": {**locked.context, **dict(context)}})
    thread.context = updated.context
    return updated


# --- Contacts -----------------------------------------------------------------


def contact_open(*, thread: Thread) -> Contact:
    """The thread's open contact, or a new one waiting in the channel's queue.

    At most one contact of a thread is open (a partial unique constraint), so
    concurrent first messages share one contact. Publishes ContactCreated.
    """
    contact = (
        Contact.objects.filter(thread=thread, status__in=Contact.OPEN_STATUSES)
        .select_related("assigned_agent__user")
        .first()
    )
    if contact is not None:
        return contact
    return _contact_start(thread)


def _contact_start(thread: Thread) -> Contact:
    """A new contact of the thread, waiting in the channel's queue; the open one if a concurrent
    writer won, locked so that it stays open until this transaction ends; a new one again if that
    one was closed before it could be locked."""
    connection = transaction.get_connection()
    while True:
        now = timezone.now()
        contact = Contact(
            tenant_id=thread.tenant_id, thread=thread, created_at=now, status_updated_at=now, waiting_since=now
        )
        if _sql.contact_insert(connection, contact, thread.channel_id):
            publish(events.ContactCreated(**_thread_fields(thread), contact_id=contact.pk))
            return contact
        won = _sql.open_contact_lock(connection, thread.pk, share=True)
        if won is not None:
            return Contact.objects.select_related("assigned_agent__user").get(pk=won)


_TRANSITIONS: dict[str, set[str]] = {
    "new": {"open", "pending", "escalated", "resolved", "closed"},
    "open": {"pending", "escalated", "resolved", "closed"},
    "pending": {"open", "escalated", "resolved", "closed"},
    "escalated": {"open", "pending", "resolved", "closed"},
    "resolved": {"closed"},
    "closed": set(),
}


def contact_set_status(*, contact: Contact, status: str, by: Membership | None = None) -> Contact:
    """Moves a contact along new → open/pending/escalated → resolved → closed.

    Resolved and closed are terminal for the contact: the next customer message
    opens a new contact. Ending frees the agent and leaves the queue.
    Publishes ContactStatusChanged.
    """
    _same_tenant(contact, by)
    if status not in Contact.Status.values:
        raise InvalidInput(f"Unknown status {status!r}.")
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        old = locked.status
        if old == status:
            return locked
        if status not in _TRANSITIONS[old]:
            raise InvalidTransition(f"A {old} contact cannot become {status}.")
        now = timezone.now()
        locked.status = status
        locked.status_updated_at = now
        fields = ["status", "status_updated_at"]
        if status in {"resolved", "closed"}:
            locked.ended_at = locked.ended_at or now
            locked.waiting_since = None
            fields += ["ended_at", "waiting_since"]
        locked.save(update_fields=fields)
        publish(
            events.ContactStatusChanged(
                **_thread_fields(locked.thread), contact_id=locked.pk, old_status=old, new_status=status
            )
        )
    return locked


def contact_assign(
    *,
    contact: Contact,
    agent: Membership | None,
    queue: RoutingQueue | None = None,
    by: Membership | None = None,
) -> Contact:
    """Assigns the contact to ``agent`` (or unassigns with None, back to waiting).

    Checks every party belongs to the contact's tenant and that the contact is
    open; a new contact becomes open. Moving to ``queue`` transfers it there.
    Capacity is the router's business (``chat.routing``). Publishes ContactAssigned.
    """
    _same_tenant(contact, agent, queue, by)
    with transaction.atomic():
        locked = Contact.objects.select_for_update(of=("self",)).select_related("thread").get(pk=contact.pk)
        if not locked.is_open:
            raise ContactClosed()
        previous = locked.assigned_agent_id
        now = timezone.now()
        locked.assigned_agent = agent
        fields = ["assigned_agent"]
        if queue is not None:
            locked.queue = queue
            fields.append("queue")
        if agent is not None:
            locked.assigned_at = now
            locked.waiting_since = None
            fields += ["assigned_at", "waiting_since"]
            if locked.status == Contact.Status.NEW:
                locked.status, locked.status_updated_at = Contact.Status.OPEN, now
                fields += ["status", "status_updated_at"]
        else:
            locked.assigned_at = None
            locked.waiting_since = now
            fields += ["assigned_at", "waiting_since"]
        locked.save(update_fields=fields)
        publish(
            events.ContactAssigned(
                **_thread_fields(locked.thread),
                contact_id=locked.pk,
                agent_id=agent.pk if agent else None,
                previous_agent_id=previous,
                queue_id=locked.queue_id,
            )
        )
    return locked


def contact_update_custom_fields(*, contact: Contact, values: Any, by: Membership | None = None) -> Contact:
    """Validates values against the tenant's contact field definitions and merges them."""
    _same_tenant(contact, by)
    cleaned = custom_fields_validate(tenant=contact.tenant, scope=CustomFieldDefinition.Scope.CONTACT, values=values)
    with transaction.atomic():
        locked = Contact.objects.select_for_update(of=("self",)).select_related("thread").get(pk=contact.pk)
        locked.custom_fields = {**locked.custom_fields, **cleaned}
        locked.save(update_fields=["custom_fields"])
        publish(events.ContactFieldsChanged(**_thread_fields(locked.thread), contact_id=locked.pk))
    return locked


# --- Messages -----------------------------------------------------------------


def _attachments_claim(thread: Thread, attachments: Iterable[Attachment], message: Message) -> None:
    ids = [attachment.pk for attachment in attachments]
    if not ids:
        return
    claimed = Attachment.objects.filter(
        pk__in=ids, tenant_id=thread.tenant_id, channel_id=thread.channel_id, message__isnull=True
    ).update(message=message)
    if claimed != len(set(ids)):
        raise InvalidContent("An attachment is unknown or already used.")
    for attachment in attachments:
        attachment.message = message


def message_create(
    *,
    thread: Thread,
    author_type: str,
    content_type: str = "TEXT",
    content: Mapping[str, Any],
    client_id: str | None = None,
    agent: Membership | None = None,
    attachments: Iterable[Attachment] = (),
    is_internal: bool = False,
) -> MessageResult:
    """Appends a message to the thread.

    Guarantees: the message gets the next per-thread sequence number (no gap, no
    duplicate, also under concurrent writers: the thread row is locked); a
    ``client_id`` already used in this thread returns the original message with
    ``created=False`` and writes nothing. A customer message to a locked thread
    raises ThreadLocked; one to an archived thread restores it. A customer
    message opens a contact when none is open. Internal notes come from agents
    only. Publishes MessageCreated after commit, with the snapshot of what was
    written. Most messages cost one SQL statement (chat/_sql.py,
    docs/architecture.md).
    """
    attachments = list(attachments)
    message = _message_new(thread, author_type, content_type, content, client_id, agent, attachments, is_internal)
    client_id = message.client_id or None
    connection = transaction.get_connection()
    written = None
    # Most messages: one statement outside a transaction (chat/_sql.py). It writes nothing in the cases the
    # transaction below handles; a thread without messages has no contact yet: no use trying.
    if thread.last_sequence and not attachments and _sql.can_append(connection):
        written = _sql.message_append(connection, message)
        original = None if written or not client_id else _sql.message_by_client_id(connection, thread.pk, client_id)
        if original is not None:
            return MessageResult(original, False)
    if written is None:
        try:
            with transaction.atomic():
                written = _message_write(connection, message, attachments)
        except _KnownClientId as known:
            return MessageResult(known.original, False)
    publish(_message_created(thread, message, written, attachments))
    return MessageResult(message, True)


async def amessage_create(
    *,
    thread: Thread,
    author_type: str,
    content_type: str = "TEXT",
    content: Mapping[str, Any],
    client_id: str | None = None,
    agent: Membership | None = None,
    is_internal: bool = False,
) -> Written | None:
    """``message_create`` from the event loop, for the case one statement covers; None otherwise.

    Same validation, statement, guarantees and event as ``message_create``, run
    on the loop's own connection (``engage.lib.aiodb``): no thread switch. It
    writes nothing and returns None when the statement cannot do (not
    PostgreSQL, a thread without messages, a locked thread, no open contact, a
    known client id, or any doubt): the caller then runs ``message_create`` in a
    worker, which handles every case. Invalid input raises as there.
    """
    if not thread.last_sequence or not aiodb.available():
        return None
    _author_check(author_type, agent, is_internal)
    _same_tenant(thread, agent)
    message = _message_plain(
        thread.tenant_id, thread.pk, author_type, content_type, content, client_id, agent, is_internal
    )
    return await _append_in_loop(thread, message, agent, None)


async def areply_create(
    *,
    agent: Membership,
    thread_id: int,
    content_type: str = "TEXT",
    content: Mapping[str, Any],
    client_id: str | None = None,
    is_internal: bool = False,
    recheck_agent: bool = False,
) -> Written | None:
    """An agent's reply (or note) from the event loop, checked by the write itself: one statement.

    The statement makes the checks of ``inbox.thread_for_reply`` (the agent's
    tenant and queues, the open contact assigned to the agent unless an
    administrator or a note, with ``recheck_agent`` the membership's current
    role), and those of ``amessage_create``'s one statement (a thread with
    messages, an open contact for what is not a note, a new client id), and
    writes only if all pass. None when it wrote nothing, whatever the
    reason (a check failed, or one statement cannot do, as for
    ``amessage_create``): the caller then asks ``inbox.thread_for_reply``, whose
    verdict says why, and writes the usual way. Invalid input raises.
    """
    if not aiodb.available():
        return None
    message = _message_plain(agent.tenant_id, thread_id, _AGENT, content_type, content, client_id, agent, is_internal)
    check = _sql.ReplyCheck(
        agent_id=agent.pk,
        tenant_id=agent.tenant_id,
        queues=not agent.is_admin,
        assigned=not is_internal and not agent.is_admin,
        role=agent.role if recheck_agent else None,
    )
    return await _append_in_loop(None, message, agent, check)


async def _append_in_loop(
    thread: Thread | None, message: dict[str, Any], agent: Membership | None, reply: _sql.ReplyCheck | None
) -> Written | None:
    """Sends the statement, and publishes its event from the callback that reads its answer.

    Once sent, the write and its event complete even if the caller is cancelled (its socket
    closed), as in a worker thread, which a cancelled caller does not stop either; the caller
    only waits for the outcome. A callback, not a task: no task, shield and extra turn of the
    loop per message.
    """
    sql, params = _sql.amessage_append_statement(message, reply)
    written: asyncio.Future[Written | None] = asyncio.get_running_loop().create_future()
    then = functools.partial(_appended_then_publish, thread, message, agent, written)
    answer = aiodb.submit_now(sql, params)  # sent now, before anything can cancel the caller
    if answer is not None:
        answer.add_done_callback(then)
    else:  # a connection is opened or waited for first: in a task, which a cancelled caller does not stop
        loops.start(_submit_then(sql, params, then))
    return await written


async def _submit_then(sql: str, params: dict[str, Any], then: Callable[[asyncio.Future[Any]], None]) -> None:
    try:
        answer = await aiodb.submit(sql, params)
    except BaseException as error:  # nothing sent (a connection that could not be used): the caller hears why
        answer = asyncio.get_running_loop().create_future()
        if isinstance(error, asyncio.CancelledError):
            answer.cancel()
        else:
            answer.set_exception(error)
        then(answer)
        if not isinstance(error, Exception):
            raise
        return
    answer.add_done_callback(then)


def _appended_then_publish(
    thread: Thread | None,
    message: dict[str, Any],
    agent: Membership | None,
    written: asyncio.Future[Written | None],
    answer: asyncio.Future[Any],
) -> None:
    """``answer``'s callback: the write's outcome for ``written``, its event published first."""
    if answer.cancelled():  # never sent (the loop is closing)
        written.cancel()
        return
    try:
        appended = _sql.amessage_appended(message, answer)
        if appended is None:
            outcome, rest = None, None
        else:
            outcome, rest = _publish_appended(thread, message, agent, appended)
    except Exception as error:
        if written.done():  # its caller is gone: nobody else will hear of it
            logger.exception("loop write of a message to thread %s failed", message["thread_id"])
        else:
            written.set_exception(error)
        return
    if rest is None:
        if not written.done():
            written.set_result(outcome)
        return
    assert outcome is not None  # subscribers left to run (``rest``) come only with a written message
    loops.start(_after_subscribers(rest, written, outcome))


async def _after_subscribers(
    rest: Callable[[], None], written: asyncio.Future[Written | None], outcome: Written
) -> None:
    """Subscribers that may block or query run in a worker, as after a commit; then the caller hears."""
    try:
        await sync_to_async(rest, thread_sensitive=False)()
    except Exception:  # each subscriber's own failure is logged by ``rest``: this is the worker call's
        logger.exception("subscribers of message %s did not run", outcome.snapshot["message"]["id"])
    finally:
        if not written.done():
            written.set_result(outcome)


def _publish_appended(
    thread: Thread | None, message: dict[str, Any], agent: Membership | None, appended: _sql.Appended
) -> tuple[Written, Callable[[], None] | None]:
    """The written message's snapshot and event, delivered to the loop-safe subscribers now;
    the others come back as one callable to run in a worker (``dispatch_in_loop``)."""
    locked = appended.thread
    if thread is not None:  # the caller's thread learns its new counters
        thread.last_sequence, thread.is_archived = locked["last_sequence"], locked["is_archived"]
    snapshot = message_snapshot_plain(
        message,
        author=agent,
        thread=locked,
        customer=appended.customer,
        contact=appended.contact,
        assignee=appended.assignee,
    )
    event = _created_event(locked, message, snapshot)
    return Written(snapshot), dispatch_in_loop(event)


_AUTHORS = frozenset(Message.Author.values)
_AGENT, _CUSTOMER = Message.Author.AGENT.value, Message.Author.CUSTOMER.value
_INBOUND, _OUTBOUND = Message.Direction.INBOUND.value, Message.Direction.OUTBOUND.value


def _author_check(author_type: str, agent: Membership | None, is_internal: bool) -> None:
    if author_type not in _AUTHORS:
        raise InvalidInput(f"Unknown author {author_type!r}.")
    if author_type == _AGENT and agent is None:
        raise InvalidInput("An agent message needs its agent.")
    if is_internal and author_type != _AGENT:
        raise InvalidInput("Only agents write internal notes.")


def _validated(
    content_type: str, content: Mapping[str, Any], client_id: str | None, has_attachments: bool
) -> tuple[dict[str, Any], str | None]:
    """The normalised content and client id, or InvalidInput."""
    normalised = content_validate(content_type, dict(content), has_attachments=has_attachments)
    client_id = str(client_id).strip() if client_id else None
    if client_id is not None and not (0 < len(client_id) <= MAX_CLIENT_ID):
        raise InvalidInput("A message id has 1–200 characters.")
    return normalised, client_id


def _message_plain(
    tenant_id: int,
    thread_pk: int,
    author_type: str,
    content_type: str,
    content: Mapping[str, Any],
    client_id: str | None,
    agent: Membership | None,
    is_internal: bool,
    has_attachments: bool = False,
) -> dict[str, Any]:
    """A new message as the plain values of each of its columns, once its input is validated; the
    write fills in the id, sequence, client id (when none) and contact. The loop writes these
    values as they are (``chat._sql.amessage_append_statement``): building a model instance and preparing
    each value through its field cost a tenth of its CPU; ``_message_new`` builds the instance
    from them. The caller has checked the author (``_author_check``) and that it is the thread's
    tenant's (``_same_tenant``, or the statement's ``ReplyCheck``)."""
    normalised, client_id = _validated(content_type, content, client_id, has_attachments)
    return {
        "id": None,
        "tenant_id": tenant_id,
        "thread_id": thread_pk,
        "contact_id": None,
        "sequence": None,
        "public_id": uuid.uuid4(),
        "client_id": client_id or "",
        "direction": _INBOUND if author_type == _CUSTOMER else _OUTBOUND,
        "author_type": str(author_type),
        "author_agent_id": None if agent is None else agent.pk,
        "content_type": str(content_type),
        "content": normalised,
        "is_internal": bool(is_internal),
        "created_at": timezone.now(),
        "delivered_at": None,
        "seen_at": None,
    }


def _message_new(
    thread: Thread,
    author_type: str,
    content_type: str,
    content: Mapping[str, Any],
    client_id: str | None,
    agent: Membership | None,
    attachments: list[Attachment],
    is_internal: bool,
) -> Message:
    """The unsaved message, once its input is validated."""
    _author_check(author_type, agent, is_internal)
    _same_tenant(thread, agent, *attachments)
    message = Message(
        **_message_plain(
            thread.tenant_id,
            thread.pk,
            author_type,
            content_type,
            content,
            client_id,
            agent,
            is_internal,
            has_attachments=bool(attachments),
        )
    )
    message.author_agent = agent  # loaded with its user: the snapshot names the author
    return message


def _message_created(
    thread: Thread, message: Message, written: tuple[Thread, Contact | None], attachments: list[Attachment]
) -> events.MessageCreated:
    """The event of a message just written; the caller's thread learns its new counters."""
    locked, contact = written
    thread.last_sequence, thread.is_archived = locked.last_sequence, locked.is_archived
    snapshot = message_snapshot(message, thread=locked, contact=contact, attachments=attachments)
    return _created_event(_thread_fields(locked) | {"id": locked.pk}, snapshot["message"], snapshot)


def _created_event(
    thread: Mapping[str, Any], message: Mapping[str, Any], snapshot: dict[str, Any]
) -> events.MessageCreated:
    """MessageCreated of a message written to ``thread`` (its ids), with its snapshot."""
    return events.MessageCreated(
        tenant_id=thread["tenant_id"],
        thread_id=thread["id"],
        channel_id=thread["channel_id"],
        customer_id=thread["customer_id"],
        message_id=message["id"],
        sequence=message["sequence"],
        direction=message["direction"],
        author_type=message["author_type"],
        is_internal=message["is_internal"],
        snapshot=snapshot,
    )


class _KnownClientId(Exception):
    """Raised inside the transaction to roll back what a retry wrote before it was recognised."""

    def __init__(self, original: Message) -> None:
        self.original = original


def _message_write(connection: Any, message: Message, attachments: list[Attachment]) -> tuple[Thread, Contact | None]:
    """The transaction of ``message_create`` when one statement cannot do (SQLite, inside a
    transaction, attachments, a locked thread, no open contact, a known client id).

    1. The thread's open contact locked (none is closed while the message joins
       it), then the thread's next sequence number (an UPDATE that locks the
       thread row until commit), read with its customer and open contact
       (chat/_sql.py).
    2. The message, unless its client id is taken (the unique constraint decides:
       a retry then reads the original and rolls everything back).
    """
    inbound = message.author_type == Message.Author.CUSTOMER
    client_id = message.client_id
    _sql.open_contact_lock(connection, message.thread_id)
    taken = _sql.thread_take_sequence(
        connection, message.thread_id, message.created_at, inbound=inbound, internal=message.is_internal
    )
    if taken is None:
        raise Thread.DoesNotExist("Thread matching query does not exist.")
    locked, contact = taken
    if client_id and inbound and locked.is_locked:
        # A retry returns its original whatever changed since.
        original = _sql.message_by_client_id(connection, locked.pk, client_id)
        if original is not None:
            raise _KnownClientId(original)
    if inbound and locked.is_locked:
        raise ThreadLocked()
    if contact is None and not message.is_internal:
        contact = _contact_start(locked)  # a retry's is rolled back below, with its event
    message.thread = locked
    message.contact = contact
    message.sequence = locked.last_sequence
    message.client_id = client_id or f"parley-{locked.pk}-{locked.last_sequence}"
    if not _sql.message_insert(connection, message):
        if not client_id:
            raise IntegrityError(f"The message id {message.client_id!r} is taken in thread {locked.pk}.")
        original = _sql.message_by_client_id(connection, locked.pk, client_id)
        assert original is not None  # the constraint found it: inside this transaction, and committed
        raise _KnownClientId(original)
    _attachments_claim(locked, attachments, message)
    return locked, contact


def offline_message_create(
    *,
    channel: Channel,
    customer: Customer,
    text: str,
    email: str,
    first_name: str = "",
    last_name: str = "",
    client_id: str | None = None,
) -> MessageResult:
    """Leaves a message while no agent is online (the live-chat offline form).

    Checks the e-mail address, stores it and the name on the customer, and
    appends the text to the customer's latest thread on the channel (a new one
    when there is none), where it waits in the queue like any first message.
    One transaction; publishes CustomerUpdated and MessageCreated after commit.
    """
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    _same_tenant(channel, customer)
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput("An offline message needs a valid e-mail address.") from None
    with transaction.atomic():
        names = {"first_name": first_name, "last_name": last_name}
        customer_update(customer=customer, values={"email": email, **{k: v for k, v in names.items() if v}})
        thread = (
            Thread.objects.filter(channel=channel, customer=customer)
            .order_by(F("last_message_at").desc(nulls_last=True), "-created_at")
            .first()
        )
        if thread is None:
            thread, _ = thread_get_or_create(channel=channel, customer=customer)
        return message_create(
            thread=thread, author_type=Message.Author.CUSTOMER, content={"text": text}, client_id=client_id
        )


def _other_side(reader: str) -> Q:
    if reader == "customer":
        return Q(direction=Message.Direction.OUTBOUND, is_internal=False)
    if reader == "agent":
        return Q(direction=Message.Direction.INBOUND)
    raise InvalidInput("The reader is 'customer' or 'agent'.")


def _messages_mark(thread: Thread, reader: str, up_to_sequence: int | None, field: str) -> int:
    upper = thread.last_sequence if up_to_sequence is None else min(int(up_to_sequence), thread.last_sequence)
    now = timezone.now()
    query = Message.objects.filter(
        _other_side(reader), thread=thread, sequence__lte=upper, **{f"{field}__isnull": True}
    )
    with transaction.atomic():
        count = query.update(**{field: now})
        if field == "seen_at":
            Message.objects.filter(
                _other_side(reader), thread=thread, sequence__lte=upper, delivered_at__isnull=True
            ).update(delivered_at=now)
        if count:
            event = events.MessagesSeen if field == "seen_at" else events.MessagesDelivered
            publish(event(**_thread_fields(thread), reader=reader, up_to_sequence=upper))
    return count


def messages_mark_seen(*, thread: Thread, reader: str, up_to_sequence: int | None = None) -> int:
    """Marks the other side's messages up to a sequence (default: all) seen, hence delivered.

    Returns how many changed; publishes MessagesSeen only when some did.
    """
    return _messages_mark(thread, reader, up_to_sequence, "seen_at")


def messages_mark_delivered(*, thread: Thread, reader: str, up_to_sequence: int | None = None) -> int:
    """Marks the other side's messages up to a sequence delivered; publishes MessagesDelivered."""
    return _messages_mark(thread, reader, up_to_sequence, "delivered_at")


def typing_set(*, thread: Thread, actor: str, is_typing: bool, agent: Membership | None = None) -> None:
    """Announces that the customer or an agent started or stopped typing. Stores nothing."""
    if actor not in {"customer", "agent"}:
        raise InvalidInput("The typist is 'customer' or 'agent'.")
    _same_tenant(thread, agent)
    publish(
        events.TypingChanged(
            **_thread_fields(thread), actor=actor, agent_id=agent.pk if agent else None, is_typing=bool(is_typing)
        )
    )


# --- Attachments --------------------------------------------------------------


def attachment_create(
    *,
    channel: Channel,
    file_name: str,
    mime_type: str,
    data: bytes,
    customer: Customer | None = None,
    agent: Membership | None = None,
) -> Attachment:
    """Stores an uploaded file privately after checking the channel's size and type limits."""
    from django.core.files.base import ContentFile

    from chat.attachments import attachment_check

    _same_tenant(channel, customer, agent)
    clean_name, clean_type = attachment_check(channel=channel, file_name=file_name, mime_type=mime_type, data=data)
    attachment = Attachment(
        tenant_id=channel.tenant_id,
        channel=channel,
        file_name=clean_name,
        mime_type=clean_type,
        size=len(data),
        uploaded_by_customer=customer,
        uploaded_by_agent=agent,
    )
    attachment.file.save(clean_name, ContentFile(data), save=False)
    attachment.save()
    return attachment


def attachments_unclaimed_delete(*, older_than: datetime.timedelta) -> int:
    """Deletes uploads that no message used within ``older_than`` (the row, then its file).

    Visitor uploads are anonymous until a message claims them; this bounds what
    an abandoned or abusive upload costs. Safe to run twice; returns how many.
    """
    cutoff = timezone.now() - older_than
    removed = 0
    for attachment in Attachment.objects.filter(message__isnull=True, created_at__lt=cutoff).iterator():
        # A message may have claimed it since the read: delete only if still unclaimed.
        if Attachment.objects.filter(pk=attachment.pk, message__isnull=True).delete()[0]:
            attachment.file.delete(save=False)
            removed += 1
    return removed
