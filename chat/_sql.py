"""Hand-written SQL of ``chat.services.message_create``, the hottest write.

Django compiles every queryset to SQL again on each call, and for these small
statements the compilation costs far more CPU than the database's own work
(docs/performance.md). The statements here are written once. Values are
prepared by each model field (``get_db_prep_save``, as ``save()`` does: the
message content is encrypted by its field); rows become instances as the ORM
builds them (the backend's and the fields' converters, then ``Model.from_db``).
PostgreSQL and SQLite. The SQL text is built from model metadata only; every
value is a query parameter.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from django.contrib.auth import get_user_model
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

from chat.models import Contact, Customer, Message, Thread
from engage.models import Membership

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
                column = field.get_col(self.model._meta.db_table)
                functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
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


THREAD = Columns(Thread, "t")
CUSTOMER = Columns(Customer, "cu")
CONTACT = Columns(Contact, "c")
ASSIGNEE = Columns(Membership, "am")


@functools.cache
def _assignee_user() -> Columns[Any]:
    return Columns(get_user_model(), "au")


def _prep(model: type[models.Model], name: str, value: Any, connection: BaseDatabaseWrapper) -> Any:
    return model._meta.get_field(name).get_db_prep_save(value, connection)


@functools.cache
def _thread_read_sql(source: str) -> str:
    user = _assignee_user()
    open_statuses = ", ".join(f"'{status}'" for status in Contact.OPEN_STATUSES)
    return (
        f"SELECT {THREAD.sql}, {CUSTOMER.sql}, {CONTACT.sql}, {ASSIGNEE.sql}, {user.sql}"  # noqa: S608
        f' FROM {source} t JOIN "{Customer._meta.db_table}" cu ON cu."id" = t."customer_id"'
        f' LEFT JOIN "{Contact._meta.db_table}" c ON c."thread_id" = t."id" AND c."status" IN ({open_statuses})'
        f' LEFT JOIN "{Membership._meta.db_table}" am ON am."id" = c."assigned_agent_id"'
        f' LEFT JOIN "{user.model._meta.db_table}" au ON au."id" = am."user_id"'
        ' WHERE t."id" = %s'
    )


def thread_take_sequence(
    connection: BaseDatabaseWrapper, thread_pk: int, now: Any, *, last_message: bool, unarchive: bool
) -> tuple[Thread, Contact | None] | None:
    """Takes the thread's next sequence number; returns the thread and its open contact.

    Runs inside the caller's transaction. The UPDATE holds the thread row's
    lock until commit, so concurrent writers of one thread (in any process)
    get their numbers one after the other. The thread comes back with its
    customer, the open contact (if any) with its assigned agent and user.
    PostgreSQL updates and reads in one statement (the UPDATE in a WITH):
    that read sees the database as the statement began, not what a writer
    it waited for committed since; the constraints catch what it cannot see
    (a contact opened meanwhile, a client id used meanwhile). None when the
    thread is gone.
    """
    sets = ['"last_sequence" = "last_sequence" + 1', '"updated_at" = %s']
    params: list[Any] = [_prep(Thread, "updated_at", now, connection)]
    if last_message:
        sets.append('"last_message_at" = %s')
        params.append(_prep(Thread, "last_message_at", now, connection))
    if unarchive:
        sets.append('"is_archived" = %s')
        params.append(False)
    update = f'UPDATE "{Thread._meta.db_table}" SET {", ".join(sets)} WHERE "id" = %s'  # noqa: S608
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH updated AS ({update} RETURNING *) {_thread_read_sql('updated')}", [*params, thread_pk, thread_pk]
            )
        else:
            cursor.execute(update, [*params, thread_pk])
            if cursor.rowcount != 1:
                return None
            cursor.execute(_thread_read_sql(f'"{Thread._meta.db_table}"'), [thread_pk])
        row = cursor.fetchone()
    if row is None:
        return None
    thread = THREAD.load(connection, row)
    assert thread is not None
    start = len(THREAD)
    thread.customer = CUSTOMER.load(connection, row, start)  # type: ignore[assignment]
    start += len(CUSTOMER)
    contact = CONTACT.load(connection, row, start)
    if contact is not None:
        contact.thread = thread
        start += len(CONTACT)
        assignee = ASSIGNEE.load(connection, row, start)
        if assignee is not None:
            assignee.user = _assignee_user().load(connection, row, start + len(ASSIGNEE))
        contact.assigned_agent = assignee
    return thread, contact


_MESSAGE_FIELDS = tuple(field for field in Message._meta.concrete_fields if not field.primary_key)


@functools.cache
def _message_insert_sql(returning: bool) -> str:
    columns = ", ".join(f'"{field.column}"' for field in _MESSAGE_FIELDS)
    placeholders = ", ".join(["%s"] * len(_MESSAGE_FIELDS))
    return (
        f'INSERT INTO "{Message._meta.db_table}" ({columns}) VALUES ({placeholders})'  # noqa: S608
        ' ON CONFLICT ("thread_id", "client_id") DO NOTHING' + (' RETURNING "id"' if returning else "")
    )


def message_insert(connection: BaseDatabaseWrapper, message: Message) -> bool:
    """Inserts ``message`` and sets its primary key; False (nothing written) if its client id is taken.

    A sequence number already taken still raises IntegrityError.
    """
    params = [field.get_db_prep_save(getattr(message, field.attname), connection) for field in _MESSAGE_FIELDS]
    returning = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(_message_insert_sql(returning), params)
        if returning:
            row = cursor.fetchone()
            pk = row[0] if row else None
        else:
            pk = cursor.lastrowid if cursor.rowcount == 1 else None
    if pk is None:
        return False
    message.pk = pk
    message._state.adding = False
    message._state.db = connection.alias
    return True
