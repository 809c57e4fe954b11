import factory

from chat.models import Customer, Message, Thread
from tests.factories.engage import ChannelFactory


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    brand = factory.SubFactory("tests.factories.engage.BrandFactory")
    tenant = factory.SelfAttribute("brand.tenant")
    id_on_external_platform = factory.Faker("uuid4")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")


class ThreadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Thread

    channel = factory.SubFactory(ChannelFactory)
    tenant = factory.SelfAttribute("channel.tenant")
    customer = factory.SubFactory(CustomerFactory, brand=factory.SelfAttribute("..channel.brand"))


class MessageFactory(factory.django.DjangoModelFactory):
    """Only for read-side tests: writes bypass services. Use chat.services otherwise."""

    class Meta:
        model = Message

    thread = factory.SubFactory(ThreadFactory)
    tenant = factory.SelfAttribute("thread.tenant")
    sequence = factory.Sequence(lambda n: n + 1)
    client_id = factory.Faker("uuid4")
    direction = Message.Direction.INBOUND
    author_type = Message.Author.CUSTOMER
    content = factory.LazyAttribute(
        lambda o: {"text": "hello", "payload": {}, "postback": None, "fallbackText": "hello"}
    )
