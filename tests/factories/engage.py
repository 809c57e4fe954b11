import factory
from django.contrib.auth import get_user_model

from engage.models import Brand, Channel, Membership, RoutingQueue, Tenant


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Tenant {n}")
    slug = factory.Sequence(lambda n: f"tenant-{n}")


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand

    tenant = factory.SubFactory(TenantFactory)
    brand_id = factory.Sequence(lambda n: 5000 + n)
    name = factory.Sequence(lambda n: f"Brand {n}")


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    brand = factory.SubFactory(BrandFactory)
    tenant = factory.SelfAttribute("brand.tenant")
    channel_id = factory.Sequence(lambda n: f"chat_{n}")
    name = factory.Sequence(lambda n: f"Channel {n}")
    kind = Channel.Kind.MESSAGING
    multi_thread = True


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("parley-demo")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = Membership.Role.AGENT


class RoutingQueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingQueue

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Queue {n}")
