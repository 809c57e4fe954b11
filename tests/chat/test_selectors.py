"""chat.selectors: messages are read with their attachments, and leave no garbage in cycles."""

import pytest

from chat import selectors
from chat.models import Attachment, Message
from tests.collector import cyclic_garbage
from tests.factories.chat import MessageFactory, ThreadFactory

pytestmark = pytest.mark.django_db


def _attach(message: Message, name: str) -> Attachment:
    return Attachment.objects.create(
        tenant=message.tenant,
        channel=message.thread.channel,
        message=message,
        file=f"attachments/{name}",
        file_name=name,
        mime_type="text/plain",
        size=1,
    )


def test_each_message_answers_its_attachments_in_order_without_a_query(django_assert_num_queries):  # type: ignore[no-untyped-def]
    thread = ThreadFactory()
    first, second, third = (MessageFactory(thread=thread, sequence=number) for number in (1, 2, 3))
    for name in ("a.txt", "b.txt"):
        _attach(first, name)
    _attach(third, "c.txt")
    other = MessageFactory(sequence=1)  # another thread's message and attachment are not read
    _attach(other, "other.txt")
    with django_assert_num_queries(2):  # the page, then every attachment of the page
        page = selectors.messages_after(thread=thread, after_sequence=0, for_customer=True)
    with django_assert_num_queries(0):
        assert [[file.file_name for file in message.attachments.all()] for message in page] == [
            ["a.txt", "b.txt"],
            [],
            ["c.txt"],
        ]
        assert [message.attachments.count() for message in page] == [2, 0, 1]
    assert [file.file_name for file in page[0].attachments.filter(file_name="b.txt")] == ["b.txt"]  # a new query
    assert second.pk == page[1].pk


def test_no_messages_no_query(django_assert_num_queries):  # type: ignore[no-untyped-def]
    with django_assert_num_queries(0):
        assert selectors.with_attachments([]) == []


def test_a_page_read_and_dropped_leaves_nothing_for_the_cycle_collector():  # type: ignore[no-untyped-def]
    thread = ThreadFactory()
    for number in (1, 2):
        _attach(MessageFactory(thread=thread, sequence=number), f"{number}.txt")
    selectors.messages_before(thread=thread, before_sequence=None, for_customer=True)  # first use fills caches
    cyclic_garbage()
    page = selectors.messages_before(thread=thread, before_sequence=None, for_customer=True)
    assert [[file.file_name for file in message.attachments.all()] for message in page] == [["1.txt"], ["2.txt"]]
    del page
    assert cyclic_garbage() == []  # no message, attachment or queryset
