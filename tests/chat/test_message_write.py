"""``message_create`` outside a transaction, as adapters call it: on PostgreSQL most messages are
one statement (chat/_sql.py ``message_append``); every other case takes the transaction. The
same guarantees either way (tests/chat/test_services.py runs inside a transaction)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import events, services
from chat.errors import ThreadLocked
from chat.models import Contact, Message, Thread

pytestmark = pytest.mark.django_db(transaction=True)


def _text(text):
    return {"text": text}


@pytest.fixture
def thread(acme):
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="w-1")
    services.message_create(thread=thread, author_type="customer", content=_text("first"), client_id="first")
    return thread


def _statements(write):
    with CaptureQueriesContext(connection) as captured:
        result = write()
    return result, [query["sql"].split()[0] for query in captured.captured_queries]


def _row(thread):
    return Thread.objects.values("last_sequence", "updated_at", "last_message_at", "is_archived").get(pk=thread.pk)


def test_a_message_to_a_thread_with_an_open_contact_is_one_statement(acme, thread):
    expected = ["WITH"] if connection.vendor == "postgresql" else ["BEGIN", "UPDATE", "SELECT", "INSERT", "COMMIT"]
    for write in (
        lambda: services.message_create(thread=thread, author_type="customer", content=_text("more"), client_id="b"),
        lambda: services.message_create(thread=thread, author_type="agent", agent=acme.alice, content=_text("hi")),
        lambda: services.message_create(
            thread=thread, author_type="agent", agent=acme.alice, content=_text("note"), is_internal=True
        ),
    ):
        assert _statements(write)[1] == expected
    assert list(Message.objects.filter(thread=thread).values_list("sequence", flat=True)) == [1, 2, 3, 4]


def test_the_written_message_is_the_stored_row_with_its_relations_loaded(acme, thread, django_assert_num_queries):
    contact = Contact.objects.get(thread=thread)
    services.contact_assign(contact=contact, agent=acme.alice)
    reply = services.message_create(thread=thread, author_type="agent", agent=acme.alice, content=_text("hello"))
    message = reply.message
    stored = Message.objects.get(pk=message.pk)
    fields = [field.attname for field in Message._meta.concrete_fields]
    assert [getattr(message, name) for name in fields] == [getattr(stored, name) for name in fields]
    assert (message.sequence, message.client_id, message.contact_id) == (2, f"parley-{thread.pk}-2", contact.pk)
    with django_assert_num_queries(0):
        assert message.thread.customer.first_name == "Vera"
        assert message.contact.assigned_agent.user.username == "alice"
        assert message.author_agent.user.username == "alice"
    assert (thread.last_sequence, _row(thread)["last_message_at"]) == (2, message.created_at)


def test_the_content_is_encrypted_at_rest(thread):
    services.message_create(thread=thread, author_type="customer", content=_text("card secret"), client_id="s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM chat_message WHERE client_id = 's'")
        (stored,) = cursor.fetchone()
    assert "card secret" not in stored
    assert Message.objects.get(client_id="s").text == "card secret"


def test_a_retry_returns_the_original_and_writes_nothing(thread, published):
    original = Message.objects.get(client_id="first")
    before = _row(thread)
    published.clear()
    retry = services.message_create(thread=thread, author_type="customer", content=_text("again"), client_id="first")
    assert (retry.created, retry.message.pk, retry.message.text) == (False, original.pk, "first")
    assert (_row(thread), Message.objects.count(), published) == (before, 1, [])


def test_a_locked_thread_refuses_the_customer_and_takes_the_agent(acme, thread, published):
    services.thread_set_locked(thread=thread, locked=True)
    before = _row(thread)
    published.clear()
    with pytest.raises(ThreadLocked):
        services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="x")
    assert (_row(thread), published) == (before, [])
    reply = services.message_create(thread=thread, author_type="agent", agent=acme.alice, content=_text("hello"))
    assert reply.message.sequence == 2
    assert [event.name for event in published] == ["message.created"]


def test_a_customer_message_restores_an_archived_thread_an_agent_message_does_not(acme, thread):
    services.thread_set_archived(thread=thread, archived=True)
    services.message_create(thread=thread, author_type="agent", agent=acme.alice, content=_text("hello"))
    assert _row(thread)["is_archived"] is True
    services.message_create(thread=thread, author_type="customer", content=_text("back"), client_id="b")
    assert _row(thread)["is_archived"] is False
    assert thread.is_archived is False


def test_an_internal_note_opens_no_contact_and_moves_no_last_message(acme, thread):
    contact = Contact.objects.get(thread=thread)
    before = _row(thread)
    note = services.message_create(
        thread=thread, author_type="agent", agent=acme.alice, content=_text("VIP"), is_internal=True
    ).message
    assert (note.is_internal, note.direction, note.contact_id, note.sequence) == (True, "outbound", contact.pk, 2)
    assert _row(thread)["last_message_at"] == before["last_message_at"]
    services.contact_set_status(contact=contact, status="closed")
    note = services.message_create(
        thread=thread, author_type="agent", agent=acme.alice, content=_text("later"), is_internal=True
    ).message
    assert (note.contact, note.sequence, Contact.objects.count()) == (None, 3, 1)


def test_a_message_after_the_contact_ended_opens_a_new_one(acme, thread, published):
    first = Contact.objects.get(thread=thread)
    services.contact_set_status(contact=first, status="resolved")
    published.clear()
    result = services.message_create(thread=thread, author_type="customer", content=_text("again"), client_id="2")
    second = Contact.objects.get(thread=thread, status="new")
    assert second.pk != first.pk
    assert result.message.contact_id == second.pk
    assert [event.name for event in published] == ["contact.created", "message.created"]


def test_message_created_is_published_once_with_its_snapshot(acme, thread, published):
    published.clear()
    message = services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="2").message
    (event,) = published
    assert isinstance(event, events.MessageCreated)
    assert (event.message_id, event.sequence, event.direction, event.author_type) == (
        message.pk,
        2,
        "inbound",
        "customer",
    )
    assert event.snapshot["message"]["id"] == message.pk
    assert event.snapshot["customer"]["first_name"] == "Vera"
    assert event.snapshot["contact"]["id"] == message.contact_id


def test_attachments_are_claimed_with_the_message_or_nothing_is_written(acme, thread, published):
    from chat.errors import InvalidContent

    upload = services.attachment_create(
        channel=acme.messaging, file_name="a.pdf", mime_type="application/pdf", data=b"%PDF-1.4", customer=acme.visitor
    )
    sent = services.message_create(
        thread=thread, author_type="customer", content=_text("see"), client_id="a", attachments=[upload]
    ).message
    assert (upload.message_id, list(sent.attachments.values_list("pk", flat=True))) == (sent.pk, [upload.pk])
    before = _row(thread)
    published.clear()
    with pytest.raises(InvalidContent):
        services.message_create(
            thread=thread, author_type="customer", content=_text("again"), client_id="b", attachments=[upload]
        )
    assert (_row(thread), Message.objects.filter(thread=thread).count(), published) == (before, 2, [])
