"""The upgrade: refused before accept() for a bad token, a foreign channel or a disallowed Origin."""

from __future__ import annotations

import pytest

from chat.gateway.tokens import token_issue
from engage.models import Channel
from tests.gateway.conftest import open_socket, transaction_token

pytestmark = pytest.mark.django_db(transaction=True)


async def refused(channel, **kwargs) -> bool:  # type: ignore[no-untyped-def]
    connected, visitor = await open_socket(channel, **kwargs)
    if connected:
        await visitor.close()
    return not connected


async def test_a_valid_transaction_token_opens_the_socket_and_pings_pong(acme):  # type: ignore[no-untyped-def]
    connected, visitor = await open_socket(acme.messaging, customer=acme.visitor)
    assert connected
    await visitor.communicator.send_to(text_data='{"action":"heartbeat"}')
    assert await visitor.communicator.receive_from() == '"pong"'
    await visitor.close()


async def test_bad_expired_and_foreign_tokens_are_refused(acme, globex, settings):  # type: ignore[no-untyped-def]
    assert await refused(acme.messaging, transactionToken="forged")
    assert await refused(acme.messaging, transactionToken="")
    # A token of acme's live channel does not open acme's messaging channel.
    assert await refused(acme.messaging, transactionToken=transaction_token(acme.live, acme.visitor))
    # A globex token (and customer) cannot open an acme channel, nor the reverse.
    assert await refused(acme.messaging, transactionToken=transaction_token(globex.messaging, globex.visitor))
    assert await refused(globex.messaging, transactionToken=transaction_token(acme.messaging, acme.visitor))
    # A token naming acme's channel but a globex customer (forged pairing) is refused too.
    forged = token_issue(kind="transaction", channel_pk=acme.messaging.pk, customer_pk=globex.visitor.pk).token
    assert await refused(acme.messaging, transactionToken=forged)
    # A token of another kind is not a transaction token.
    legacy = token_issue(kind="legacy", channel_pk=acme.messaging.pk, customer_pk=acme.visitor.pk).token
    assert await refused(acme.messaging, transactionToken=legacy)
    settings.PARLEY_VISITOR_TOKEN_TTLS = {"transaction": -1}
    assert await refused(acme.messaging, customer=acme.visitor)


async def test_origin_is_checked_against_the_channel(acme):  # type: ignore[no-untyped-def]
    acme.messaging.allowed_origins = ["https://shop.acme.example"]
    await Channel.objects.filter(pk=acme.messaging.pk).aupdate(allowed_origins=acme.messaging.allowed_origins)
    assert await refused(acme.messaging, customer=acme.visitor, origin="https://evil.example")
    assert not await refused(acme.messaging, customer=acme.visitor, origin="https://shop.acme.example")
    assert not await refused(acme.messaging, customer=acme.visitor)  # Node clients send no Origin


async def test_unknown_disabled_and_mismatched_channels_are_refused(acme, globex):  # type: ignore[no-untyped-def]
    assert await refused(acme.messaging, customer=acme.visitor, channelId="nope")
    assert await refused(acme.messaging, customer=acme.visitor, brandId="2002")
    assert await refused(acme.messaging, customer=acme.visitor, brandId="x")
    await Channel.objects.filter(pk=acme.messaging.pk).aupdate(status=Channel.Status.MAINTENANCE)
    assert await refused(acme.messaging, customer=acme.visitor)


async def test_legacy_customer_id_only_on_unsecured_channels(acme):  # type: ignore[no-untyped-def]
    assert await refused(acme.messaging, customerId="cust-legacy")
    await Channel.objects.filter(pk=acme.messaging.pk).aupdate(auth_mode=Channel.AuthMode.NONE)
    acme.messaging.auth_mode = Channel.AuthMode.NONE
    assert not await refused(acme.messaging, customerId="cust-legacy")
    assert await refused(acme.messaging, customerId="")
    assert await refused(acme.messaging)
