"""Hand-written SQL of ``chat.services.message_create``, the hottest write.

Django compiles every queryset to SQL again on each call, and for these small
statements the compilation costs far more CPU than the database's own work
(docs/performance.md). The statements here are written once. Values are
prepared by each model field (``get_db_prep_save``, as ``save()`` does: the
message content is encrypted by its field); rows become instances as the ORM
builds them (the backend's and the fields' converters, then ``Model.from_db``).
The event loop's write (``amessage_append_statement``) skips the instances: it writes a
message's plain values (only the content goes through its field) and reads back
plain values, the snapshot's (``PlainColumns``). PostgreSQL and SQLite. The SQL
text is built from model metadata only; every value is a query parameter.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import functools
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

import psycopg
from django.contrib.auth import get_user_model
from django.db import IntegrityError, models
from django.db.backends.base.base import BaseDatabaseWrapper

from chat import snapshots
from chat.models import Contact, Customer, Message, Thread
from engage.lib import aiodb
from engage.models import Membership, RoutingQueue, Tenant

M = TypeVar("M", bound=models.Model)


class Columns(Generic[M]):
    """A model's concrete columns in a SELECT under ``alias``, and the instance a row gives."""

    def __init__(self, model: type[M], alias: str) -> None:
        self.model = model
        self.fields = tuple(model._meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]
        self.sql = ", ".join(f'{alias}."{field.column}"' for field in self.fields)
        self._pk_index = self.fields.index(model._meta.pk)
        self._converters: dict[str, list[tuple[int, list[Any], Any]]] = {}

    def __len__(self) -> int:
        return len(self.fields)

    def _converters_for(self, connection: BaseDatabaseWrapper) -> list[tuple[int, list[Any], Any]]:
        found = self._converters.get(connection.alias)
        if found is None:
            found = []
            for index, field in enumerate(self.fields):
                column, functions = _converters(self.model, field, connection)
                if functions:
                    found.append((index, functions, column))
            self._converters[connection.alias] = found
        return found

    def load(self, connection: BaseDatabaseWrapper, row: Sequence[Any], start: int = 0) -> M | None:
        """The instance of ``row[start:start + len(self)]``; None for the NULLs of an outer join."""
        values = list(row[start : start + len(self.fields)])
        if values[self._pk_index] is None:
            return None
        for index, functions, column in self._converters_for(connection):
            value = values[index]
            for function in functions:
                value = function(value, column, connection)
            values[index] = value
        return self.model.from_db(connection.alias, self.attnames, values)


def _converters(model: type[models.Model], field: Any, connection: BaseDatabaseWrapper) -> tuple[Any, list[Any]]:
    """A field's column and what the ORM calls on its value as read (the backend's, the field's)."""
    column = field.get_col(model._meta.db_table)
    return column, connection.ops.get_db_converters(column) + column.get_db_converters(connection)


class PlainColumns:
    """Some columns of a model under ``alias``, read as a snapshot holds them (``chat.snapshots``).

    The same values ``Columns.load`` and the snapshot's dump would give (the
    ORM's converters, then datetimes as ISO 8601 and UUIDs as text), without
    building an instance: the loop's write reads back only what its event
    carries.
    """

    def __init__(self, model: type[models.Model], alias: str, names: Sequence[str]) -> None:
        self.model = model
        self.names = tuple(names)
        self.fields = tuple(model._meta.get_field(name) for name in self.names)
        self.sql = ", ".join(f'{alias}."{field.column}"' for field in self.fields)  # type: ignore[union-attr]
        self._pk_index = self.fields.index(model._meta.pk)
        self._steps: dict[str, tuple[tuple[str, list[Any], Any, Any], ...]] = {}

    def __len__(self) -> int:
        return len(self.fields)

    def _steps_for(self, connection: BaseDatabaseWrapper) -> tuple[tuple[str, list[Any], Any, Any], ...]:
        """The columns whose value is converted or encoded, with how; the others are taken as read."""
        found = self._steps.get(connection.alias)
        if found is None:
            steps = []
            for name, field in zip(self.names, self.fields, strict=True):
                column, functions = _converters(self.model, field, connection)
                encode = snapshots.encoder(field, stored=True)
                if functions or encode is not None:
                    steps.append((name, functions, column, encode))
            found = self._steps[connection.alias] = tuple(steps)
        return found

    def load(self, connection: BaseDatabaseWrapper, row: Sequence[Any], start: int = 0) -> dict[str, Any] | None:
        """The plain values of ``row[start:start + len(self)]``; None for the NULLs of an outer join."""
        if row[start + self._pk_index] is None:
            return None
        values = dict(zip(self.names, row[start : start + len(self.names)], strict=True))
        for name, functions, column, encode in self._steps_for(connection):
            value = values[name]
            for function in functions:
                value = function(value, column, connection)
            values[name] = value if encode is None or value is None else encode(value)
        return values


THREAD = Columns(Thread, "t")
CUSTOMER = Columns(Customer, "cu")
CONTACT = Columns(Contact, "c")
ASSIGNEE = Columns(Membership, "am")
MESSAGE = Columns(Message, "m")


@functools.cache
def _assignee_user() -> Columns[Any]:
    return Columns(get_user_model(), "au")


@functools.cache
def _plain() -> tuple[PlainColumns, ...]:
    """The thread, customer, contact, assigned agent and user as the event's snapshot holds them."""
    return (
        PlainColumns(Thread, "t", snapshots.FIELDS[Thread]),
        PlainColumns(Customer, "cu", snapshots.FIELDS[Customer]),
        PlainColumns(Contact, "c", snapshots.FIELDS[Contact]),
        PlainColumns(Membership, "am", snapshots.FIELDS[Membership]),
        PlainColumns(get_user_model(), "au", snapshots.user_fields()),
    )


_OPEN = ", ".join(f"'{status}'" for status in Contact.OPEN_STATUSES)


def column(model: Any, name: str) -> str:
    """The quoted column of a model's field."""
    return f'"{model._meta.get_field(name).column}"'


def agent_serves_channel_sql(agent: str, channel: str) -> str:
    """True when a queue of membership ``agent`` (a placeholder) serves ``channel`` (a column)."""
    agents, channels = Membership.queues.through, RoutingQueue.channels.through
    queue_of_channel, queue_of_agent = column(channels, "routingqueue"), column(agents, "routingqueue")
    return (
        f'EXISTS (SELECT 1 FROM "{agents._meta.db_table}" qa'  # noqa: S608
        f' JOIN "{channels._meta.db_table}" qc ON qc.{queue_of_channel} = qa.{queue_of_agent}'
        f" WHERE qa.{column(agents, 'membership')} = {agent} AND qc.{column(channels, 'channel')} = {channel})"
    )


def membership_role_sql(agent: str, tenant: str, true: str) -> str:
    """The current role of membership ``agent`` of ``tenant`` if its user and tenant are active
    (placeholders; ``true`` is a parameter holding True)."""
    user = get_user_model()
    return (
        f'SELECT m."role" FROM "{Membership._meta.db_table}" m'  # noqa: S608
        f' JOIN "{Tenant._meta.db_table}" tn ON tn."id" = m."tenant_id"'
        f' JOIN "{user._meta.db_table}" u ON u."id" = m."user_id"'
        f' WHERE m."id" = {agent} AND m."tenant_id" = {tenant} AND tn."is_active" = {true} AND u."is_active" = {true}'
    )


@dataclasses.dataclass(frozen=True, slots=True)
class ReplyCheck:
    """The checks of an agent's reply (``chat.inbox.thread_for_reply``) made by the write itself.

    The thread is the agent's tenant's; with ``queues`` a queue of the agent serves
    its channel; with ``assigned`` its open contact is assigned to the agent; with
    ``role`` the membership is still active with that role. A write whose checks
    fail writes nothing, like any other the statement cannot do.
    """

    agent_id: int
    tenant_id: int
    queues: bool
    assigned: bool
    role: str | None


@functools.cache
def _read_sql(source: str, head: str = "", plain: bool = False) -> str:
    """Thread ``t`` of ``source`` with its customer, open contact, assigned agent and user
    (every column, or with ``plain`` the snapshot's)."""
    user = _assignee_user()
    columns = _plain() if plain else (THREAD, CUSTOMER, CONTACT, ASSIGNEE, user)
    return (
        f"SELECT {head}{', '.join(part.sql for part in columns)}"  # noqa: S608
        f' FROM {source} JOIN "{Customer._meta.db_table}" cu ON cu."id" = t."customer_id"'
        f' LEFT JOIN "{Contact._meta.db_table}" c ON c."thread_id" = t."id" AND c."status" IN ({_OPEN})'
        f' LEFT JOIN "{Membership._meta.db_table}" am ON am."id" = c."assigned_agent_id"'
        f' LEFT JOIN "{user.model._meta.db_table}" au ON au."id" = am."user_id"'
        ' WHERE t."id" = %(thread)s'
    )


def _read(connection: BaseDatabaseWrapper, row: Sequence[Any], start: int) -> tuple[Thread, Contact | None]:
    thread = THREAD.load(connection, row, start)
    assert thread is not None
    start += len(THREAD)
    thread.customer = CUSTOMER.load(connection, row, start)  # type: ignore[assignment]
    start += len(CUSTOMER)
    contact = CONTACT.load(connection, row, start)
    if contact is not None:
        contact.thread = thread
        start += len(CONTACT)
        assignee = ASSIGNEE.load(connection, row, start)
        if assignee is not None:
            assignee.user = _assignee_user().load(connection, row, start + len(ASSIGNEE))  # type: ignore[assignment]
        contact.assigned_agent = assignee
    return thread, contact


_UPDATED_AT = next(field for field in Thread._meta.concrete_fields if field.name == "updated_at")


@functools.cache
def _thread_update_sql(*, inbound: bool, internal: bool) -> str:
    """The UPDATE that takes the thread's next sequence number (a customer's message also unarchives)."""
    sets = ['"last_sequence" = "last_sequence" + 1', '"updated_at" = %(now)s']
    if not internal:
        sets.append('"last_message_at" = %(now)s')
    if inbound:
        sets.append('"is_archived" = %(false)s')
    return f'UPDATE "{Thread._meta.db_table}" SET {", ".join(sets)} WHERE "id" = %(thread)s'  # noqa: S608


def _thread_update_params(connection: BaseDatabaseWrapper, thread_pk: int, now: Any) -> dict[str, Any]:
    if not (connection.vendor == "postgresql" and type(now) is datetime.datetime and now.tzinfo is not None):
        now = _UPDATED_AT.get_db_prep_save(now, connection)  # on PostgreSQL an aware datetime goes as it is
    return {"thread": thread_pk, "now": now, "false": False}


def thread_take_sequence(
    connection: BaseDatabaseWrapper, thread_pk: int, now: Any, *, inbound: bool, internal: bool
) -> tuple[Thread, Contact | None] | None:
    """Takes the thread's next sequence number; returns the thread and its open contact.

    Runs inside the caller's transaction. The UPDATE holds the thread row's
    lock until commit, so concurrent writers of one thread (in any process)
    get their numbers one after the other. The thread comes back with its
    customer, the open contact (if any) with its assigned agent and user.
    PostgreSQL updates and reads in one statement (the UPDATE in a WITH):
    that read sees the database as the statement began, not what a writer
    it waited for committed since; the constraints catch what it cannot see
    (a contact opened meanwhile, a client id used meanwhile), and the open
    contact's lock (``open_contact_lock``, taken first) keeps the contact it
    reads from being closed meanwhile. None when the thread is gone.
    """
    update = _thread_update_sql(inbound=inbound, internal=internal)
    params = _thread_update_params(connection, thread_pk, now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"WITH t AS ({update} RETURNING *) {_read_sql('t')}", params)
        else:
            cursor.execute(update, params)
            if cursor.rowcount != 1:
                return None
            cursor.execute(_read_sql(f'"{Thread._meta.db_table}" t'), params)
        row = cursor.fetchone()
    return None if row is None else _read(connection, row, 0)


_MESSAGE_FIELDS = tuple(field for field in Message._meta.concrete_fields if not field.primary_key)
_FROM_THREAD = {"thread_id": 't."id"', "contact_id": 'open_contact."id"', "sequence": 't."last_sequence"'}


def _message_values(connection: BaseDatabaseWrapper, message: Message, skip: Any = ()) -> dict[str, Any]:
    return {
        f"m_{field.attname}": field.get_db_prep_save(getattr(message, field.attname), connection)
        for field in _MESSAGE_FIELDS
        if field.attname not in skip
    }


@functools.cache
def _insert_sql(model: type[models.Model], conflict: str, returning: bool) -> str:
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(f'"{field.column}"' for field in fields)
    values = ", ".join(f"%(m_{field.attname})s" for field in fields)
    return (
        f'INSERT INTO "{model._meta.db_table}" ({columns}) VALUES ({values})'  # noqa: S608
        f" ON CONFLICT {conflict} DO NOTHING" + (' RETURNING "id"' if returning else "")
    )


def _insert(connection: BaseDatabaseWrapper, instance: models.Model, conflict: str) -> bool:
    """Inserts ``instance`` and sets its primary key; False, writing nothing, on a ``conflict``."""
    fields = [field for field in instance._meta.concrete_fields if not field.primary_key]
    values = {
        f"m_{field.attname}": field.get_db_prep_save(getattr(instance, field.attname), connection) for field in fields
    }
    returning = connection.features.can_return_columns_from_insert
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(type(instance), conflict, returning), values)
        if returning:
            row = cursor.fetchone()
            pk = row[0] if row else None
        else:
            pk = cursor.lastrowid if cursor.rowcount == 1 else None
    if pk is None:
        return False
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias
    return True


def open_contact_lock(connection: BaseDatabaseWrapper, thread_pk: int, *, share: bool = False) -> int | None:
    """Locks the thread's open contact, if any, until the transaction ends; returns its id (None:
    there is none, also when a close committed while this waited for the lock).

    By default ``FOR NO KEY UPDATE``, taken before the thread: a contact a concurrent
    transaction closes is read as closed once that committed, and none is closed while the
    message joins it. Writers of a message take the contact, then the thread
    (``message_append`` does so in one statement), so they never deadlock; the lock leaves the
    foreign key checks' key share locks free. ``share``: ``FOR KEY SHARE``, for a writer that
    already holds the thread's lock (a contact a concurrent first message opened): a close's
    ``FOR UPDATE`` waits for it, no message's lock does, so that writer cannot deadlock with one
    that locked the contact, then waits for the thread. SQLite, where one transaction writes
    at a time: no lock, a plain read with ``share``, nothing otherwise."""
    if connection.vendor != "postgresql":
        if not share:
            return None  # the caller only wants the lock
        lock = ""
    else:
        lock = " FOR KEY SHARE" if share else " FOR NO KEY UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT "id" FROM "{Contact._meta.db_table}"'  # noqa: S608
            f' WHERE "thread_id" = %(thread)s AND "status" IN ({_OPEN}){lock}',
            {"thread": thread_pk},
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


def message_insert(connection: BaseDatabaseWrapper, message: Message) -> bool:
    """Inserts ``message`` and sets its primary key; False (nothing written) if its client id is taken.

    A sequence number already taken still raises IntegrityError.
    """
    return _insert(connection, message, '("thread_id", "client_id")')


def contact_insert(connection: BaseDatabaseWrapper, contact: Contact, channel_id: int) -> bool:
    """Inserts the open ``contact`` in the channel's first queue (highest priority, then oldest);
    False, writing nothing, if the thread has an open contact (the partial unique constraint decides)."""
    channels = RoutingQueue._meta.get_field("channels")
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT q."id" FROM "{RoutingQueue._meta.db_table}" q'  # noqa: S608
            f' JOIN "{channels.m2m_db_table()}" l ON l."{channels.m2m_column_name()}" = q."id"'
            f' WHERE l."{channels.m2m_reverse_name()}" = %(channel)s ORDER BY q."priority" DESC, q."id" LIMIT 1',
            {"channel": channel_id},
        )
        row = cursor.fetchone()
    contact.queue_id = row[0] if row else None
    return _insert(connection, contact, f'("thread_id") WHERE "status" IN ({_OPEN})')


def message_by_client_id(connection: BaseDatabaseWrapper, thread_pk: int, client_id: str) -> Message | None:
    """The thread's message with this client id, if any (the original of a retry)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT {MESSAGE.sql} FROM "{Message._meta.db_table}" m'  # noqa: S608
            ' WHERE m."thread_id" = %(thread)s AND m."client_id" = %(client_id)s',
            {"thread": thread_pk, "client_id": client_id},
        )
        row = cursor.fetchone()
    return None if row is None else MESSAGE.load(connection, row)


def can_append(connection: BaseDatabaseWrapper) -> bool:
    """Whether ``message_append`` may run: PostgreSQL, outside any transaction."""
    return connection.vendor == "postgresql" and connection.get_autocommit()


@functools.cache
def _append_sql(
    *, inbound: bool, internal: bool, client_id: bool, plain: bool = False, reply: tuple[bool, bool, bool] | None = None
) -> str:
    conditions = [_thread_update_sql(inbound=inbound, internal=internal)]
    if inbound:
        conditions.append('NOT "is_locked"')
    queues, assigned, role = reply or (False, False, False)
    if reply is not None:
        table = f'"{Thread._meta.db_table}"'
        conditions.append(f'{table}."tenant_id" = %(r_tenant)s AND {table}."last_sequence" > 0')
        if queues:
            conditions.append(agent_serves_channel_sql("%(r_agent)s", f'{table}."channel_id"'))
        if role:
            conditions.append(f"({membership_role_sql('%(r_agent)s', '%(r_tenant)s', '%(r_true)s')}) = %(r_role)s")
    if assigned:
        conditions.append('EXISTS (SELECT 1 FROM open_contact WHERE "assigned_agent_id" = %(r_agent)s)')
    elif not internal:
        conditions.append("EXISTS (SELECT 1 FROM open_contact)")
    if client_id:
        conditions.append(
            f'NOT EXISTS (SELECT 1 FROM "{Message._meta.db_table}"'  # noqa: S608
            ' WHERE "thread_id" = %(thread)s AND "client_id" = %(client_id)s)'
        )
    columns = ", ".join(f'"{field.column}"' for field in _MESSAGE_FIELDS)
    generated_client_id = """COALESCE(%(client_id)s, 'parley-' || t."id" || '-' || t."last_sequence")"""
    values = ", ".join(
        _FROM_THREAD.get(field.attname)
        or (generated_client_id if field.attname == "client_id" else f"%(m_{field.attname})s")
        for field in _MESSAGE_FIELDS
    )
    # The open contact is locked before the thread: its EXISTS condition reads it before the
    # UPDATE locks the thread row. A note has no such condition (it needs no contact), so it would
    # lock the thread first, then the contact: it takes no lock (its foreign key check's, at
    # commit, is a key share lock, which no message's lock blocks), and joins the contact it read.
    lock = "" if internal else " FOR NO KEY UPDATE"
    return (
        f'WITH open_contact AS (SELECT * FROM "{Contact._meta.db_table}"'  # noqa: S608
        f' WHERE "thread_id" = %(thread)s AND "status" IN ({_OPEN}){lock}),'
        f" t AS ({' AND '.join(conditions)} RETURNING *),"
        f' m AS (INSERT INTO "{Message._meta.db_table}" ({columns})'
        f' SELECT {values} FROM t LEFT JOIN open_contact ON true RETURNING "id", "client_id") '
        + _read_sql("m CROSS JOIN t", 'm."id", m."client_id", ', plain)
    )


_SHAPE = ("author_type", "is_internal", "client_id", "thread_id", "created_at")  # what shapes the statement


def _append_statement(
    connection: BaseDatabaseWrapper, message: Message | dict[str, Any], reply: ReplyCheck | None = None
) -> tuple[str, dict[str, Any]]:
    """The statement and parameters of a model instance's append, or (from the loop) of a plain
    message's (``services._message_plain``), which also reads back plain values (``_plain``)."""
    plain = isinstance(message, dict)
    columns: Mapping[str, Any] = message if plain else {name: getattr(message, name) for name in _SHAPE}  # type: ignore[assignment]
    client_id = columns["client_id"] or None
    shape = None if reply is None else (reply.queues, reply.assigned, reply.role is not None)
    sql = _append_sql(
        inbound=columns["author_type"] == Message.Author.CUSTOMER,
        internal=columns["is_internal"],
        client_id=bool(client_id),
        plain=plain,
        reply=shape,
    )
    params = _thread_update_params(connection, columns["thread_id"], columns["created_at"])
    if reply is not None:
        params.update(r_tenant=reply.tenant_id, r_agent=reply.agent_id, r_role=reply.role, r_true=True)
    skip = (*_FROM_THREAD, "client_id")
    if plain:
        params.update(_plain_message_values(connection, message, skip))  # type: ignore[arg-type]
    else:
        params.update(_message_values(connection, message, skip=skip))  # type: ignore[arg-type]
    params["client_id"] = client_id
    return sql, params


@functools.cache
def _plain_preparers() -> tuple[tuple[str, Any], ...]:
    """Each inserted message field with what prepares its plain value: nothing for the columns
    psycopg takes as they are (numbers, text, booleans, aware datetimes, UUIDs), the field's
    ``get_db_prep_save`` for the others (the content: encrypted JSON)."""
    as_is = (
        models.IntegerField,
        models.CharField,
        models.BooleanField,
        models.ForeignKey,
        models.DateTimeField,
        models.UUIDField,
    )
    return tuple(
        (field.attname, None if isinstance(field, as_is) else field.get_db_prep_save) for field in _MESSAGE_FIELDS
    )


def _plain_message_values(connection: BaseDatabaseWrapper, message: dict[str, Any], skip: Any) -> dict[str, Any]:
    return {
        f"m_{attname}": message[attname] if prepare is None else prepare(message[attname], connection)
        for attname, prepare in _plain_preparers()
        if attname not in skip
    }


def _appended(
    connection: BaseDatabaseWrapper, message: Message, row: Sequence[Any] | None
) -> tuple[Thread, Contact | None] | None:
    if row is None:
        return None
    thread, contact = _read(connection, row, 2)
    message.pk = row[0]
    message._state.adding = False
    message._state.db = connection.alias
    message.client_id = row[1]
    message.sequence = thread.last_sequence
    message.thread = thread
    message.contact = contact
    return thread, contact


def message_append(connection: BaseDatabaseWrapper, message: Message) -> tuple[Thread, Contact | None] | None:
    """Appends ``message`` in one statement, committed at once; None if it must take the long way.

    Outside a transaction only (``can_append``). The statement locks the open
    contact (``FOR NO KEY UPDATE``, as ``open_contact_lock``: one a concurrent
    transaction closed is read as closed once that committed), takes the
    thread's next sequence number (the UPDATE holds the thread row's lock until
    the statement commits), inserts the message with the open contact, and
    reads back the thread, its customer, contact, assigned agent and user.
    It writes nothing, and this returns None, when the thread is gone, when a
    customer writes to a locked thread, when a message that needs a contact
    finds none open, or when the client id is known (also when a concurrent
    retry committed it while this statement waited for the lock: the unique
    constraint then fails the whole statement). The caller then runs the
    transaction that handles each case. Sets the message's pk, sequence,
    client id, thread and contact.
    """
    sql, params = _append_statement(connection, message)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
    except IntegrityError:
        return None
    return _appended(connection, message, row)


@dataclasses.dataclass(frozen=True, slots=True)
class Appended:
    """What the loop's write reads back: the snapshot's thread, customer, open contact and its
    assigned agent (with ``user``), as plain values (``PlainColumns``)."""

    thread: dict[str, Any]
    customer: dict[str, Any]
    contact: dict[str, Any] | None
    assignee: dict[str, Any] | None


def _appended_plain(
    connection: BaseDatabaseWrapper, message: dict[str, Any], row: Sequence[Any] | None
) -> Appended | None:
    if row is None:
        return None
    thread_part, customer_part, contact_part, assignee_part, user_part = _plain()
    start = 2
    thread = thread_part.load(connection, row, start)
    start += len(thread_part)
    customer = customer_part.load(connection, row, start)
    start += len(customer_part)
    contact = contact_part.load(connection, row, start)
    start += len(contact_part)
    assignee = assignee_part.load(connection, row, start)
    if assignee is not None:
        assignee["user"] = user_part.load(connection, row, start + len(assignee_part))
    assert thread is not None and customer is not None
    message["id"], message["client_id"], message["sequence"] = row[0], row[1], thread["last_sequence"]
    message["contact_id"] = None if contact is None else contact["id"]
    return Appended(thread, customer, contact, assignee)


def amessage_append_statement(message: dict[str, Any], reply: ReplyCheck | None = None) -> tuple[str, dict[str, Any]]:
    """``message_append``'s statement and parameters for the event loop's connections
    (``engage.lib.aiodb``), for a message given as plain values (``services._message_plain``:
    only its content goes through its field, to be encrypted); ``amessage_appended`` reads its
    answer. With ``reply``, the statement also makes an agent reply's checks (``ReplyCheck``) and
    writes nothing when one fails."""
    return _append_statement(aiodb.wrapper(), message, reply=reply)


def amessage_appended(message: dict[str, Any], answer: asyncio.Future[Any]) -> Appended | None:
    """What ``amessage_append_statement`` read back (``answer``, done, is its future): only what
    the event's snapshot holds, as plain values (no instances); None when it wrote nothing.
    Sets the message's id, sequence, client id and contact."""
    try:
        row = answer.result()
    except psycopg.IntegrityError:
        return None
    except psycopg.OperationalError:
        # The connection failed (a restarted server, a dropped link): the pool drops it. With a
        # client id the caller's retry in a worker is safe whatever became of the statement (a
        # written message is found, not doubled; its push is then left to resync by sequence).
        if message["client_id"]:
            return None
        raise
    return _appended_plain(aiodb.wrapper(), message, row)
