"""The upgrade: refused before accept() for a bad token, a foreign channel or a disallowed Origin."""

from __future__ import annotations

import json

import pytest
from django.core import signing

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
    # A genuine token whose payload was swapped for another customer's (forged pairing) is refused too:
    # the signature is what binds the customer, so the upgrade reads no customer.
    genuine = transaction_token(acme.messaging, acme.visitor)
    payload = signing.b64_encode(json.dumps({"c": acme.messaging.pk, "u": globex.visitor.pk}).encode()).decode()
    assert await refused(acme.messaging, transactionToken=":".join([payload, *genuine.split(":")[1:]]))
    assert not await refused(acme.messaging, transactionToken=genuine)
    # A token of another kind is not a transaction token.
    legacy = token_issue(kind="legacy", channel_pk=acme.messaging.pk, customer_pk=acme.visitor.pk).token
    assert await refused(acme.messaging, transactionToken=legacy)
    settings.PARLEY_VISITOR_TOKEN_TTLS = {"transaction": -1}
    assert await refused(acme.messaging, customer=acme.visitor)


async def test_origin_is_checked_against_the_channel(acme):  # type: ignore[no-untyped-def]
    assert not await refused(acme.messaging, customer=acme.visitor, origin="https://evil.example")
    acme.messaging.allowed_origins = ["https://shop.acme.example"]
    await acme.messaging.asave(update_fields=["allowed_origins"])  # the process's cached channel is dropped
    assert await refused(acme.messaging, customer=acme.visitor, origin="https://evil.example")
    assert not await refused(acme.messaging, customer=acme.visitor, origin="https://shop.acme.example")
    assert not await refused(acme.messaging, customer=acme.visitor)  # Node clients send no Origin


async def test_unknown_disabled_and_mismatched_channels_are_refused(acme, globex):  # type: ignore[no-untyped-def]
    assert await refused(acme.messaging, customer=acme.visitor, channelId="nope")
    assert await refused(acme.messaging, customer=acme.visitor, brandId="2002")
    assert await refused(acme.messaging, customer=acme.visitor, brandId="x")
    assert not await refused(acme.messaging, customer=acme.visitor)
    acme.messaging.status = Channel.Status.MAINTENANCE
    await acme.messaging.asave(update_fields=["status"])
    assert await refused(acme.messaging, customer=acme.visitor)


async def test_legacy_customer_id_only_on_unsecured_channels(acme):  # type: ignore[no-untyped-def]
    assert await refused(acme.messaging, customerId="cust-legacy")
    acme.messaging.auth_mode = Channel.AuthMode.NONE
    await acme.messaging.asave(update_fields=["auth_mode"])
    assert not await refused(acme.messaging, customerId="cust-legacy")
    assert await refused(acme.messaging, customerId="")
    assert await refused(acme.messaging)


async def test_a_disabled_tenant_or_brand_change_reaches_new_upgrades(acme):  # type: ignore[no-untyped-def]
    assert not await refused(acme.messaging, customer=acme.visitor)
    acme.tenant.is_active = False
    await acme.tenant.asave(update_fields=["is_active"])
    assert await refused(acme.messaging, customer=acme.visitor)


async def test_a_change_saved_elsewhere_reaches_new_upgrades_within_the_cache_lifetime(acme, monkeypatch):  # type: ignore[no-untyped-def]
    from chat.gateway import sessions

    assert not await refused(acme.messaging, customer=acme.visitor)
    # Another process saves the channel: this one gets no signal, only the lifetime of its copy.
    await Channel.objects.filter(pk=acme.messaging.pk).aupdate(status=Channel.Status.DISABLED)
    assert not await refused(acme.messaging, customer=acme.visitor)
    later = sessions._clock() + sessions._channel_cache_seconds()
    monkeypatch.setattr(sessions, "_clock", lambda: later)
    assert await refused(acme.messaging, customer=acme.visitor)
