import pytest
from django.db import transaction

from chat import events, services
from chat.errors import (
    ContactClosed,
    InvalidContent,
    InvalidTransition,
    ThreadLimitReached,
    ThreadLocked,
    ThreadNotFound,
)
from chat.models import Contact, Customer, Message, Thread
from engage.errors import InvalidInput, NotFound


def _text(text):
    return {"text": text}


@pytest.fixture
def thread(acme):
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="t-1")
    return thread


def test_customer_identify_creates_then_updates_one_customer(acme):
    first = services.customer_identify(brand=acme.brand, id_on_external_platform="c-9", first_name="Ann")
    again = services.customer_identify(brand=acme.brand, id_on_external_platform="c-9", last_name="Lee")
    assert first.pk == again.pk
    assert (again.first_name, again.last_name, again.tenant_id) == ("Ann", "Lee", acme.tenant.pk)
    assert Customer.objects.filter(id_on_external_platform="c-9").count() == 1


def test_customer_identify_rejects_empty_and_overlong_ids(acme):
    with pytest.raises(InvalidInput):
        services.customer_identify(brand=acme.brand, id_on_external_platform="  ")
    with pytest.raises(InvalidInput):
        services.customer_identify(brand=acme.brand, id_on_external_platform="x" * 201)


def test_same_external_id_in_two_brands_is_two_customers(acme, globex):
    a = services.customer_identify(brand=acme.brand, id_on_external_platform="same")
    g = services.customer_identify(brand=globex.brand, id_on_external_platform="same")
    assert a.pk != g.pk
    assert (a.tenant_id, g.tenant_id) == (acme.tenant.pk, globex.tenant.pk)


def test_thread_public_id_of_another_customer_is_not_found(acme):
    services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="mine")
    intruder = services.customer_identify(brand=acme.brand, id_on_external_platform="intruder")
    with pytest.raises(ThreadNotFound):
        services.thread_get_or_create(channel=acme.messaging, customer=intruder, public_id="mine")
    assert Thread.objects.get(public_id="mine").customer == acme.visitor


def test_single_thread_channel_allows_one_thread_per_customer(acme):
    services.thread_get_or_create(channel=acme.live, customer=acme.visitor, public_id="one")
    with pytest.raises(ThreadLimitReached):
        services.thread_get_or_create(channel=acme.live, customer=acme.visitor, public_id="two")
    assert Thread.objects.filter(channel=acme.live).count() == 1


def test_live_chat_allows_a_new_session_once_the_last_one_ended(acme):
    first, _ = services.thread_get_or_create(channel=acme.live, customer=acme.visitor, public_id="one")
    services.message_create(thread=first, author_type="customer", content=_text("hi"), client_id="1")
    with pytest.raises(ThreadLimitReached):
        services.thread_get_or_create(channel=acme.live, customer=acme.visitor, public_id="two")
    services.contact_set_status(contact=Contact.objects.get(thread=first), status="resolved")
    _, created = services.thread_get_or_create(channel=acme.live, customer=acme.visitor, public_id="two")
    assert created is True
    assert list(Thread.objects.filter(channel=acme.live).order_by("pk").values_list("public_id", flat=True)) == [
        "one",
        "two",
    ]


def test_globex_customer_cannot_open_a_thread_on_acme_channel(acme, globex):
    with pytest.raises(NotFound):
        services.thread_get_or_create(channel=acme.messaging, customer=globex.visitor, public_id="x")
    assert Thread.objects.count() == 0


def test_messages_get_consecutive_sequences_and_open_one_contact(thread):
    results = [
        services.message_create(thread=thread, author_type="customer", content=_text(f"m{i}"), client_id=f"c{i}")
        for i in range(3)
    ]
    assert [r.message.sequence for r in results] == [1, 2, 3]
    assert all(r.created for r in results)
    assert Contact.objects.filter(thread=thread).count() == 1
    contact = Contact.objects.get(thread=thread)
    assert {r.message.contact_id for r in results} == {contact.pk}
    assert (contact.status, contact.queue.name) == ("new", "Acme support")
    thread.refresh_from_db()
    assert thread.last_sequence == 3


def test_retry_with_same_client_id_returns_the_original(thread):
    first = services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="abc")
    retry = services.message_create(thread=thread, author_type="customer", content=_text("hi again"), client_id="abc")
    assert retry.created is False
    assert retry.message.pk == first.message.pk
    assert retry.message.text == "hi"
    assert Message.objects.filter(thread=thread).count() == 1


def test_a_retry_writes_nothing_even_after_the_contact_ended_or_the_thread_was_locked(
    transactional_db, acme, published
):
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="again")
    first = services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="abc")
    services.contact_set_status(contact=first.message.contact, status="closed")
    row = Thread.objects.values("last_sequence", "updated_at", "last_message_at", "is_locked")
    published.clear()
    before = row.get(pk=thread.pk)
    retry = services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="abc")
    assert row.get(pk=thread.pk) == before
    services.thread_set_locked(thread=thread, locked=True)
    published.clear()
    before = row.get(pk=thread.pk)
    locked_retry = services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="abc")
    assert row.get(pk=thread.pk) == before
    assert [(r.created, r.message.pk) for r in (retry, locked_retry)] == [(False, first.message.pk)] * 2
    assert (Message.objects.count(), Contact.objects.filter(thread=thread).count(), published) == (1, 1, [])


def test_a_retry_on_a_thread_with_an_open_contact_keeps_the_sequence_gap_free(acme, thread):
    services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="a")
    retry = services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="a")
    reply = services.message_create(thread=thread, author_type="agent", agent=acme.alice, content=_text("hello"))
    assert (retry.created, retry.message.sequence, reply.message.sequence) == (False, 1, 2)
    assert Thread.objects.get(pk=thread.pk).last_sequence == 2


def test_the_returned_message_is_the_stored_row_with_its_relations_loaded(acme, thread, django_assert_num_queries):
    first = services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="a")
    services.contact_assign(contact=first.message.contact, agent=acme.alice)
    services.customer_update(customer=acme.visitor, values={"first_name": "Vera Renamed"})
    written = services.message_create(thread=thread, author_type="customer", content=_text("again"), client_id="b")
    message = written.message
    stored = Message.objects.get(pk=message.pk)
    fields = [field.attname for field in Message._meta.concrete_fields]
    assert [getattr(message, name) for name in fields] == [getattr(stored, name) for name in fields]
    with django_assert_num_queries(0):
        assert message.thread.customer.first_name == "Vera Renamed"
        assert message.thread.last_sequence == 2
        assert message.contact.assigned_agent.user.username == "alice"
    assert thread.last_sequence == 2


def test_message_content_is_encrypted_at_rest(thread):
    from django.db import connection

    services.message_create(thread=thread, author_type="customer", content=_text("card secret"), client_id="e1")
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM chat_message")
        (stored,) = cursor.fetchone()
    assert "card secret" not in stored
    assert Message.objects.get(client_id="e1").text == "card secret"


def test_locked_thread_refuses_customer_messages_but_not_agents(acme, thread):
    services.thread_set_locked(thread=thread, locked=True, by=acme.alice)
    with pytest.raises(ThreadLocked):
        services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="x")
    result = services.message_create(thread=thread, author_type="agent", agent=acme.alice, content=_text("hello"))
    assert result.message.sequence == 1
    assert Message.objects.filter(thread=thread).count() == 1


def test_customer_message_restores_an_archived_thread(thread):
    services.thread_set_archived(thread=thread, archived=True)
    services.message_create(thread=thread, author_type="customer", content=_text("back"), client_id="b")
    thread.refresh_from_db()
    assert thread.is_archived is False


def test_internal_note_needs_an_agent_and_is_marked_internal(acme, thread):
    with pytest.raises(InvalidInput):
        services.message_create(thread=thread, author_type="customer", content=_text("x"), is_internal=True)
    note = services.message_create(
        thread=thread, author_type="agent", agent=acme.alice, content=_text("VIP"), is_internal=True
    ).message
    assert (note.is_internal, note.direction, note.sequence) == (True, "outbound", 1)
    thread.refresh_from_db()
    assert (thread.last_sequence, thread.last_message_at, note.contact) == (1, None, None)
    assert Contact.objects.count() == 0


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("TEXT", {"text": ""}),
        ("TEXT", {"text": "x" * 16_001}),
        ("QUICK_REPLIES", {"payload": {"text": {"content": "Pick"}, "actions": []}}),
        ("RICH_LINK", {"payload": {"title": {"content": "x"}, "url": "javascript:alert(1)"}}),
        ("ADAPTIVE_CARD", {"payload": {"type": "Other"}}),
        ("POSTBACK", {"text": "x"}),
        ("HTML", {"text": "<b>x</b>"}),
    ],
)
def test_invalid_content_is_refused_and_nothing_is_written(thread, content_type, content):
    with pytest.raises(InvalidContent):
        services.message_create(thread=thread, author_type="customer", content_type=content_type, content=content)
    thread.refresh_from_db()
    assert (thread.last_sequence, Message.objects.count(), Contact.objects.count()) == (0, 0, 0)


def test_rich_content_is_accepted(acme, thread):
    payload = {
        "text": {"content": "Pick one"},
        "actions": [{"type": "REPLY_BUTTON", "text": "Yes", "postback": "yes"}],
    }
    message = services.message_create(
        thread=thread, author_type="agent", agent=acme.alice, content_type="QUICK_REPLIES", content={"payload": payload}
    ).message
    message.refresh_from_db()
    assert message.content == {"text": "Pick one", "payload": payload, "postback": None, "fallbackText": "Pick one"}


def test_agent_of_globex_cannot_write_to_acme_thread(acme, globex, thread):
    with pytest.raises(NotFound):
        services.message_create(thread=thread, author_type="agent", agent=globex.admin, content=_text("hi"))
    assert Message.objects.count() == 0


def test_contact_status_moves_forward_and_closed_is_final(acme, thread):
    services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="1")
    contact = Contact.objects.get(thread=thread)
    services.contact_set_status(contact=contact, status="pending", by=acme.alice)
    services.contact_set_status(contact=contact, status="resolved", by=acme.alice)
    contact.refresh_from_db()
    assert contact.status == "resolved" and contact.ended_at is not None
    with pytest.raises(InvalidTransition):
        services.contact_set_status(contact=contact, status="open", by=acme.alice)
    services.message_create(thread=thread, author_type="customer", content=_text("again"), client_id="2")
    assert list(Contact.objects.filter(thread=thread).order_by("pk").values_list("status", flat=True)) == [
        "resolved",
        "new",
    ]


def test_assign_opens_the_contact_and_unassign_puts_it_back_waiting(acme, thread):
    services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="1")
    contact = Contact.objects.get(thread=thread)
    contact = services.contact_assign(contact=contact, agent=acme.alice)
    assert (contact.status, contact.assigned_agent, contact.waiting_since) == ("open", acme.alice, None)
    contact = services.contact_assign(contact=contact, agent=None)
    assert contact.assigned_agent is None and contact.waiting_since is not None


def test_assigning_a_closed_contact_is_refused(acme, thread):
    services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="1")
    contact = services.contact_set_status(contact=Contact.objects.get(thread=thread), status="closed")
    with pytest.raises(ContactClosed):
        services.contact_assign(contact=contact, agent=acme.alice)


def test_globex_agent_cannot_be_assigned_acme_contact(acme, globex, thread):
    services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="1")
    contact = Contact.objects.get(thread=thread)
    with pytest.raises(NotFound):
        services.contact_assign(contact=contact, agent=globex.admin)
    contact.refresh_from_db()
    assert contact.assigned_agent is None


def test_seen_marks_only_the_other_sides_messages(acme, thread):
    services.message_create(thread=thread, author_type="customer", content=_text("q"), client_id="1")
    services.message_create(thread=thread, author_type="agent", agent=acme.alice, content=_text("a"))
    assert services.messages_mark_seen(thread=thread, reader="customer") == 1
    assert services.messages_mark_seen(thread=thread, reader="customer") == 0
    seen = dict(Message.objects.values_list("direction", "seen_at"))
    assert seen["inbound"] is None and seen["outbound"] is not None


def test_custom_fields_are_validated_against_definitions(acme, thread):
    services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="1")
    contact = Contact.objects.get(thread=thread)
    services.contact_update_custom_fields(contact=contact, values=[{"ident": "topic", "value": "order"}])
    contact.refresh_from_db()
    assert contact.custom_fields == {"topic": "order"}
    for bad in ([{"ident": "topic", "value": "nope"}], [{"ident": "unknown", "value": "x"}], "x"):
        with pytest.raises(InvalidInput):
            services.contact_update_custom_fields(contact=contact, values=bad)
    contact.refresh_from_db()
    assert contact.custom_fields == {"topic": "order"}


def test_customer_custom_fields_and_extra_values(acme):
    customer = services.customer_update(
        customer=acme.visitor,
        values={"email": "v@example.com", "extra": {"plan": "gold"}},
        custom_fields={"customer_since": "2024-02-01"},
    )
    customer.refresh_from_db()
    assert (customer.email, customer.extra, customer.custom_fields) == (
        "v@example.com",
        {"plan": "gold"},
        {"customer_since": "2024-02-01"},
    )
    with pytest.raises(InvalidInput):
        services.customer_update(customer=customer, custom_fields={"customer_since": "yesterday"})


def test_services_publish_typed_events_after_commit(transactional_db, acme, published):
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="ev")
    message = services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="1").message
    names = [event.name for event in published]
    assert names == ["thread.created", "contact.created", "message.created"]
    created = published[-1]
    assert created == events.MessageCreated(
        tenant_id=acme.tenant.pk,
        thread_id=thread.pk,
        channel_id=acme.messaging.pk,
        customer_id=acme.visitor.pk,
        message_id=message.pk,
        sequence=1,
        direction="inbound",
        author_type="customer",
        is_internal=False,
    )


def test_a_refused_message_publishes_nothing(transactional_db, acme, published):
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="ev")
    published.clear()
    with pytest.raises(InvalidContent):
        services.message_create(thread=thread, author_type="customer", content={"text": ""})
    with pytest.raises(ThreadLocked), transaction.atomic():
        services.thread_set_locked(thread=thread, locked=True)
        services.message_create(thread=thread, author_type="customer", content=_text("x"))
    assert published == []
    thread.refresh_from_db()
    assert thread.is_locked is False


@pytest.mark.parametrize(
    "action",
    [
        lambda thread, contact, agent: services.thread_set_locked(thread=thread, locked=True, by=agent),
        lambda thread, contact, agent: services.contact_set_status(contact=contact, status="resolved", by=agent),
        lambda thread, contact, agent: services.contact_update_custom_fields(
            contact=contact, values={"topic": "order"}, by=agent
        ),
        lambda thread, contact, agent: services.typing_set(thread=thread, actor="agent", is_typing=True, agent=agent),
        lambda thread, contact, agent: services.message_create(
            thread=thread, author_type="agent", agent=agent, content={"text": "note"}, is_internal=True
        ),
    ],
    ids=["lock", "status", "custom_fields", "typing", "internal_note"],
)
def test_globex_agent_cannot_act_on_acme_conversations(transactional_db, acme, globex, published, action):
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="iso")
    services.message_create(thread=thread, author_type="customer", content=_text("hi"), client_id="1")
    contact = Contact.objects.get(thread=thread)
    published.clear()
    with pytest.raises(NotFound):
        action(thread, contact, globex.admin)
    thread.refresh_from_db()
    contact.refresh_from_db()
    assert (thread.is_locked, thread.last_sequence, contact.status, contact.custom_fields) == (False, 1, "new", {})
    assert published == []
