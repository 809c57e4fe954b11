"""factory_boy factories for Parley's models (tests only)."""

from tests.factories.chat import CustomerFactory, MessageFactory, ThreadFactory
from tests.factories.engage import (
    BrandFactory,
    ChannelFactory,
    MembershipFactory,
    RoutingQueueFactory,
    TenantFactory,
    UserFactory,
)

__all__ = [
    "BrandFactory",
    "ChannelFactory",
    "CustomerFactory",
    "MembershipFactory",
    "MessageFactory",
    "RoutingQueueFactory",
    "TenantFactory",
    "ThreadFactory",
    "UserFactory",
]
