"""A message as it was written, carried in its ``MessageCreated`` event.

``chat.services.message_create`` has the message, its thread, customer,
contact, author and attachments in memory when it commits. It publishes them
with the event (``message_snapshot``), so every socket that shows the message,
in any process, renders it from the event (``message_from_snapshot``) instead
of reading it back from the database: one write, no read per socket.

A snapshot holds plain values (what msgpack and JSON carry): only the fields
the renderers read. The rebuilt instances are what the ORM would have loaded;
any other field is deferred and, if ever read, loaded from the database like
a deferred field of a query, so a renderer that reads more stays correct.
Message content travels in clear inside the channel layer, as it does on the
sockets it is sent to; it is encrypted at rest only (docs/architecture.md).
A snapshot of another format version is ignored: the reader falls back to
the database.

Renderers on the hot path (the visitor push, the console's message data) read
the snapshot's plain values directly (``usable_snapshot``): no model instance is
built. ``message_from_snapshot`` stays for other readers and as the reference
those renderers are tested against.
"""

from __future__ import annotations

import datetime
import functools
import operator
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AbstractUser
from django.db import DEFAULT_DB_ALIAS, models
from django.db.models import DEFERRED

from chat.models import Attachment, Contact, Customer, Message, Thread
from engage.models import Membership

VERSION = 1

M = TypeVar("M", bound=models.Model)

FIELDS: dict[type[models.Model], tuple[str, ...]] = {
    Message: (
        "id",
        "tenant_id",
        "thread_id",
        "contact_id",
        "sequence",
        "public_id",
        "client_id",
        "direction",
        "author_type",
        "author_agent_id",
        "content_type",
        "content",
        "is_internal",
        "created_at",
        "delivered_at",
        "seen_at",
    ),
    Thread: (
        "id",
        "tenant_id",
        "channel_id",
        "customer_id",
        "public_id",
        "name",
        "is_locked",
        "is_archived",
        "last_sequence",
        "created_at",
        "updated_at",
        "last_message_at",
    ),
    Customer: ("id", "tenant_id", "brand_id", "id_on_external_platform", "first_name", "last_name", "image"),
    Contact: (
        "id",
        "tenant_id",
        "thread_id",
        "status",
        "queue_id",
        "assigned_agent_id",
        "custom_fields",
        "created_at",
        "status_updated_at",
        "assigned_at",
        "waiting_since",
        "ended_at",
    ),
    Membership: ("id", "tenant_id", "user_id", "role", "nickname"),
    Attachment: ("id", "tenant_id", "channel_id", "message_id", "public_id", "file", "file_name", "mime_type", "size"),
}


def user_fields() -> tuple[str, ...]:
    user_model = get_user_model()
    return ("id", user_model.USERNAME_FIELD, "first_name", "last_name")


def encoder(field: Any, *, stored: bool = False) -> Callable[[Any], Any] | None:
    """How a field's value becomes a plain one; None: it already is. ``stored``: the value as
    read from the database (a file is then its name already), not an instance's attribute."""
    if isinstance(field, models.DateTimeField):
        return datetime.datetime.isoformat
    if isinstance(field, models.UUIDField):
        return str
    if isinstance(field, models.FileField) and not stored:
        return operator.attrgetter("name")
    return None


_dumpers: dict[tuple[type[models.Model], tuple[str, ...]], tuple[tuple[str, Callable[[Any], Any] | None], ...]] = {}


def _dump(instance: models.Model, fields: tuple[str, ...]) -> dict[str, Any]:
    model = type(instance)
    dumper = _dumpers.get((model, fields))
    if dumper is None:
        dumper = _dumpers[model, fields] = tuple((name, encoder(model._meta.get_field(name))) for name in fields)
    values = {}
    for name, encode in dumper:
        value = getattr(instance, name)
        values[name] = value if encode is None or value is None else encode(value)
    return values


_columns: dict[type[models.Model], tuple[tuple[str, Callable[[Any], Any] | None], ...]] = {}


def _columns_of(model: type[models.Model]) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    """Each concrete field's attname, with the function that turns its plain value back."""
    found = _columns.get(model)
    if found is None:
        columns = []
        for field in model._meta.concrete_fields:
            decoder: Callable[[Any], Any] | None = None
            if isinstance(field, models.DateTimeField):
                decoder = datetime.datetime.fromisoformat
            elif isinstance(field, models.UUIDField):
                decoder = uuid.UUID
            columns.append((field.attname, decoder))
        found = _columns[model] = tuple(columns)
    return found


def _load(model: type[M], values: Mapping[str, Any]) -> M:
    """An instance as ``Model.from_db`` builds it: unlisted fields are deferred."""
    columns = _columns_of(model)
    row: list[Any] = []
    for name, decoder in columns:
        if name not in values:
            row.append(DEFERRED)
        elif decoder is None or values[name] is None:
            row.append(values[name])
        else:
            row.append(decoder(values[name]))
    instance = model(*row)  # what Model.from_db does with a full row
    instance._state.adding = False
    instance._state.db = DEFAULT_DB_ALIAS
    return instance


def message_snapshot_plain(
    message: Mapping[str, Any],
    *,
    author: Membership | None,
    thread: dict[str, Any],
    customer: dict[str, Any],
    contact: dict[str, Any] | None,
    assignee: dict[str, Any] | None,
) -> dict[str, Any]:
    """``message_snapshot`` of a message without attachments written from plain values
    (``chat.services._message_plain``), whose thread, customer, contact and assigned agent were
    read as plain values (``chat._sql.PlainColumns``); ``author`` has its user loaded."""
    values = {}
    for name, encode in _PLAIN_MESSAGE:
        value = message[name]
        values[name] = value if encode is None or value is None else encode(value)
    return {
        "v": VERSION,
        "message": values,
        "thread": thread,
        "customer": customer,
        "contact": contact,
        "assignee": assignee if contact is not None else None,
        "author": _dump_membership(author),
        "attachments": [],
    }


_PLAIN_MESSAGE = tuple((name, encoder(Message._meta.get_field(name), stored=True)) for name in FIELDS[Message])


def _dump_membership(membership: Membership | None) -> dict[str, Any] | None:
    if membership is None:
        return None
    return {**_dump(membership, FIELDS[Membership]), "user": _dump(membership.user, user_fields())}


def _load_membership(values: Mapping[str, Any] | None) -> Membership | None:
    if values is None:
        return None
    membership = _load(Membership, {key: value for key, value in values.items() if key != "user"})
    _relate(membership, "user", _load(get_user_model(), values["user"]))
    return membership


def message_snapshot(
    message: Message,
    *,
    thread: Thread,
    contact: Contact | None,
    attachments: Iterable[Attachment] = (),
) -> dict[str, Any]:
    """What renderers need of a message just written, as plain values.

    The caller has loaded ``thread.customer``, ``contact.assigned_agent.user``
    and ``message.author_agent.user``; this reads nothing from the database.
    """
    return {
        "v": VERSION,
        "message": _dump(message, FIELDS[Message]),
        "thread": _dump(thread, FIELDS[Thread]),
        "customer": _dump(thread.customer, FIELDS[Customer]),
        "contact": None if contact is None else _dump(contact, FIELDS[Contact]),
        "assignee": None if contact is None else _dump_membership(contact.assigned_agent),
        "author": _dump_membership(message.author_agent),
        "attachments": [_dump(attachment, FIELDS[Attachment]) for attachment in attachments],
    }


def usable_snapshot(event: Mapping[str, Any], tenant_id: int) -> Mapping[str, Any] | None:
    """The event's snapshot if a renderer may use it: this format version, the event's own
    message, of ``tenant_id``; else None (the caller reads the message from the database)."""
    snapshot = event.get("snapshot")
    if not snapshot or snapshot.get("v") != VERSION:
        return None
    message = snapshot["message"]
    if message["tenant_id"] != tenant_id or message["id"] != event.get("message_id"):
        return None
    return snapshot


@functools.cache
def _username_field(user_model_label: str) -> str | None:
    """The user model's USERNAME_FIELD if its names are Django's (``get_full_name``,
    ``get_username``), so a snapshot's user can be named without an instance; else None."""
    user_model = get_user_model()
    plain = (
        getattr(user_model, "get_full_name", None) is AbstractUser.get_full_name
        and getattr(user_model, "get_username", None) is AbstractBaseUser.get_username
    )
    return user_model.USERNAME_FIELD if plain else None


def membership_display_name(values: Mapping[str, Any]) -> str:
    """``Membership.display_name`` of a snapshot's membership (``author`` or ``assignee``)."""
    if values["nickname"]:
        return values["nickname"]
    username_field = _username_field(settings.AUTH_USER_MODEL)
    if username_field is not None:
        user = values["user"]
        return f"{user['first_name']} {user['last_name']}".strip() or user[username_field]
    membership = _load_membership(values)
    assert membership is not None
    return membership.display_name


def _relate(instance: models.Model, name: str, related: models.Model | None) -> None:
    """Sets a loaded relation as ``select_related`` does: the cache only (the ``_id`` is in the row)."""
    instance._meta.get_field(name).set_cached_value(instance, related)  # type: ignore[union-attr]


def message_from_snapshot(snapshot: Mapping[str, Any] | None) -> Message | None:
    """The message of a snapshot, with its thread, customer, contact, author and attachments.

    No database access: relations are set from the snapshot. None when there is
    no snapshot or it has another format version.
    """
    if not snapshot or snapshot.get("v") != VERSION:
        return None
    thread = _load(Thread, snapshot["thread"])
    _relate(thread, "customer", _load(Customer, snapshot["customer"]))
    message = _load(Message, snapshot["message"])
    _relate(message, "thread", thread)
    contact = None
    if snapshot["contact"] is not None:
        contact = _load(Contact, snapshot["contact"])
        _relate(contact, "thread", thread)
        _relate(contact, "assigned_agent", _load_membership(snapshot["assignee"]))
    _relate(message, "contact", contact)
    _relate(message, "author_agent", _load_membership(snapshot["author"]))
    attachments = [_load(Attachment, values) for values in snapshot["attachments"]]
    for attachment in attachments:
        _relate(attachment, "message", message)
    # As prefetch_related leaves it, but a list: filtering it fails loudly instead of querying. (Django
    # sets this attribute at runtime; Model does not declare it.)
    cast(Any, message)._prefetched_objects_cache = {"attachments": attachments}
    return message


class RenderedCache:
    """What was rendered of a message, kept per process so that N sockets cost one rendering.

    The sockets of a process that an event reaches render it within moments of
    each other, so an entry is served for at least half of ``seconds`` and at most
    ``seconds``, and while puts keep coming, held no longer (at most ``size``
    entries, or two for a size of 1): one kept longer would outlive
    the young collections of Python's cyclic collector and be walked again by its
    older, longer passes, which pause the whole process (docs/performance.md,
    "Collector pauses"). Entries are held in two
    generations: a ``put`` goes to the young one, which becomes the old one
    (dropping the old) once it is ``seconds / 2`` old or holds ``size / 2``
    entries. A ``put`` is then one store, where keeping the entries in order and
    dropping each expired one was 2 % of a message's CPU (docs/performance.md,
    "Ninth session"). Safe from worker threads and the event loop.
    """

    def __init__(self, *, size: int, seconds: float) -> None:
        self.size, self.seconds = size, seconds
        self._period, self._generation_size = seconds / 2, max(1, size // 2)
        self._young: dict[Any, tuple[float, Any]] = {}
        self._old: dict[Any, tuple[float, Any]] = {}
        self._young_since = time.monotonic()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any | None:
        hit = self._young.get(key) or self._old.get(key)  # one dictionary read each: atomic
        if hit is None or time.monotonic() - hit[0] >= self.seconds:
            return None
        return hit[1]

    def put(self, key: Any, value: Any) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._young_since >= self._period or len(self._young) >= self._generation_size:
                self._old, self._young, self._young_since = self._young, {}, now
            self._young[key] = (now, value)

    def __len__(self) -> int:
        """Entries held, expired ones included until their generation is dropped."""
        return len(self._young) + len(self._old)

    def clear(self) -> None:
        with self._lock:
            self._young, self._old = {}, {}
