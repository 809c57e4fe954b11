"""Who is at the other end of a visitor connection: the secured-session exchange and the handshake.

Identity rules (docs/visitor-protocol.md §Identity):

- an anonymous customer id (legacy ``customerId`` query, ``anonymous`` token
  body) is only ever an id within the channel's brand, and never one that a
  signed token has verified: such ids need the signature again;
- a company-managed id is accepted only as a verified JWT (``chat.gateway.identity``);
- ``securedCookies`` ids are minted by Parley and kept in a signed HttpOnly cookie;
- a transaction token binds a socket to one customer of one channel.

The upgrade of a socket with a transaction token does no database work: the
channel comes from a per-process cache (``channel_cached``: at most
``PARLEY_GATEWAY_CHANNEL_CACHE_SECONDS``, default 10, old; refreshed by every
visitor HTTP request, which reads the row; ``handshake_accept``) and the customer is the one the
signed token names, read on first use (``customer_from_token``).

A channel, brand or tenant saved or deleted empties the cache of its own process
at once and, once committed, of every ASGI process: it is announced to the
channel layer's ``gateway.channels`` group, which each process's
``channels_changed_listen`` (started by the ASGI lifespan, engage.asgi) has
joined. An origin taken off a channel's list, or a channel disabled, is refused
by the next upgrade everywhere; the cache's age limit bounds what a lost
announcement (Redis down, a server without lifespan) leaves stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
import uuid
from typing import Any

from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from chat import selectors, services
from chat.gateway.identity import IdentityRefused, VerifiedIdentity, identity_verify
from chat.gateway.tokens import token_issue, token_read
from chat.models import Customer
from engage.errors import InvalidInput, NotFound, ParleyError, PermissionDenied
from engage.lib.loops import run_soon
from engage.models import Brand, Channel, Tenant
from engage.selectors import channel_get_public

logger = logging.getLogger(__name__)

COOKIE_SALT = "parley.gateway.cookie"
COOKIE_MAX_AGE = 365 * 24 * 3600


class HandshakeRefused(PermissionDenied):
    """The connection is refused before the upgrade."""

    code = "handshake_refused"


class ModeNotAllowed(PermissionDenied):
    """This channel does not use that kind of secured session."""

    code = "auth_mode_not_allowed"


class ChannelUnavailable(ParleyError):
    """The channel is not taking conversations now."""

    code = "channel_unavailable"
    status = 503


def cookie_name(channel: Channel) -> str:
    return f"parley_customer_{channel.brand.brand_id}"


# --- Channels, cached per process ---------------------------------------------------

CHANNEL_CACHE_SIZE = 4096
# (brandId, channelId) -> (monotonic expiry, channel with brand and tenant); read without a lock.
_channels: dict[tuple[int, str], tuple[float, Channel]] = {}
_channels_lock = threading.Lock()
_channels_generation = 0
_clock = time.monotonic


def _channel_cache_seconds() -> float:
    return float(getattr(settings, "PARLEY_GATEWAY_CHANNEL_CACHE_SECONDS", 10.0))


def _channel_key(brand_id: Any, channel_id: Any) -> tuple[int, str]:
    if not isinstance(channel_id, str) or not channel_id:
        raise NotFound("Unknown brand or channel.")
    try:
        return int(brand_id), channel_id
    except (TypeError, ValueError):
        raise NotFound("Unknown brand or channel.") from None


def channel_cached(*, brand_id: Any, channel_id: Any) -> Channel | None:
    """The process's fresh copy of the channel row, or None when it has to be read. No database work."""
    try:
        key = _channel_key(brand_id, channel_id)
    except NotFound:
        return None
    hit = _channels.get(key)
    if hit is None or _clock() >= hit[0]:
        return None
    return hit[1]


def channel_cache_clear(**_: Any) -> None:
    """Forgets every cached channel of this process."""
    global _channels_generation
    with _channels_lock:
        _channels_generation += 1
        _channels.clear()


CHANNELS_CHANGED_GROUP = "gateway.channels"
CHANNELS_CHANGED = {"type": "gateway.channels.changed"}


def _channel_changed(**_: Any) -> None:
    """A channel, brand or tenant was saved or deleted: this process forgets its copies now, the
    others once the change committed (before, they could read the old row again)."""
    channel_cache_clear()
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(entry[1] is channels_changed_announce for entry in connection.run_on_commit):
        return  # one announcement for the transaction (a tenant's delete cascades over its channels)
    transaction.on_commit(channels_changed_announce)


def channels_changed_announce() -> None:
    """Tells every process's ``channels_changed_listen`` to forget its cached channels."""
    layer = get_channel_layer()
    if layer is not None:
        run_soon(lambda: _announce(layer))


async def _announce(layer: BaseChannelLayer) -> None:
    try:
        await layer.group_send(CHANNELS_CHANGED_GROUP, CHANNELS_CHANGED)
    except Exception:
        logger.warning(
            "gateway: other processes were not told of a channel change; their copies expire within %s s",
            _channel_cache_seconds(),
            exc_info=True,
        )


async def channels_changed_listen(
    layer: BaseChannelLayer | None = None, *, listening: asyncio.Event | None = None
) -> None:
    """Empties this process's channel cache whenever another process announces a change, for as
    long as it runs (the ASGI lifespan runs it until shutdown). Once in the group it empties the
    cache too, since what was read before could be stale, and sets ``listening``. Any message
    empties it: a layer that lost messages tells its channels so (``layer.overflow``), and a
    missed announcement is as good as one. A failing layer is retried every second."""
    while True:
        channel = None
        try:
            layer = layer or get_channel_layer()
            if layer is None:
                return
            channel = await layer.new_channel("gateway-channels.")
            await layer.group_add(CHANNELS_CHANGED_GROUP, channel)
            channel_cache_clear()
            if listening is not None:
                listening.set()
            while True:
                await layer.receive(channel)
                channel_cache_clear()
        except Exception:
            logger.warning("gateway: listening for channel changes failed; retrying in 1 s", exc_info=True)
        finally:  # failed or cancelled (the process stops listening): the group forgets this channel
            if layer is not None and channel is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(layer.group_discard(CHANNELS_CHANGED_GROUP, channel), 1)
        await asyncio.sleep(1)


for _model in (Channel, Brand, Tenant):
    post_save.connect(_channel_changed, sender=_model, dispatch_uid=f"gateway-channels-{_model.__name__}-save")
    post_delete.connect(_channel_changed, sender=_model, dispatch_uid=f"gateway-channels-{_model.__name__}-delete")


def _channel_read(key: tuple[int, str]) -> Channel:
    generation = _channels_generation
    channel = channel_get_public(brand_id=key[0], channel_id=key[1])
    seconds = _channel_cache_seconds()
    if seconds > 0:
        with _channels_lock:
            if generation == _channels_generation:  # not saved meanwhile
                if len(_channels) >= CHANNEL_CACHE_SIZE:
                    _channels.clear()
                _channels[key] = (_clock() + seconds, channel)
    return channel


def _usable(channel: Channel) -> Channel:
    if channel.status == Channel.Status.DISABLED:
        raise NotFound("Unknown brand or channel.")
    if not channel.is_active:
        raise ChannelUnavailable()
    return channel


def channel_for_visitors(*, brand_id: Any, channel_id: Any) -> Channel:
    """The active channel named by the public pair, or NotFound / ChannelUnavailable.

    Read from the database, and kept as the process's copy for the upgrades.
    """
    return _usable(_channel_read(_channel_key(brand_id, channel_id)))


def customer_from_token(*, channel: Channel, customer_pk: int) -> Customer:
    """The customer a valid transaction token names, as an unread row (primary key, tenant, brand).

    The signature is the proof: Parley signs a transaction token only for a
    customer of the channel's brand (``_transaction_token``), and the token is
    bound to the channel. The other fields are read on first use
    (``chat.gateway.handlers.common.customer_of``), in a worker thread.
    """
    values = {"id": customer_pk, "tenant_id": channel.tenant_id, "brand_id": channel.brand_id}
    names = [field.attname for field in Customer._meta.concrete_fields if field.attname in values]
    return Customer.from_db(None, names, [values[name] for name in names])


def _names(identity: Any) -> dict[str, str]:
    if not isinstance(identity, dict):
        return {}
    return {
        key: value
        for key, value in {
            "first_name": identity.get("firstName"),
            "last_name": identity.get("lastName"),
            "image": identity.get("image"),
        }.items()
        if isinstance(value, str) and value
    }


def customer_anonymous(*, channel: Channel, external_id: Any, identity: Any = None) -> Customer:
    """The brand's customer with this self-declared id; a verified id cannot be claimed this way."""
    if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > 200:
        raise InvalidInput("A customer id of 1 to 200 characters is required.")
    existing = selectors.customer_find(brand_pk=channel.brand_id, id_on_external_platform=external_id.strip())
    if existing is not None and existing.is_verified:
        raise IdentityRefused("This customer id is company-managed: it needs a signed token.")
    names = _names(identity)
    image = names.get("image")
    if image and not image.startswith(("https://", "http://")):
        image = None
    return services.customer_identify(
        brand=channel.brand,
        id_on_external_platform=external_id,
        first_name=names.get("first_name"),
        last_name=names.get("last_name"),
        image=image,
    )


def customer_verified(*, channel: Channel, identity: VerifiedIdentity) -> Customer:
    return services.customer_identify(
        brand=channel.brand,
        id_on_external_platform=identity.customer_id,
        first_name=identity.first_name or None,
        last_name=identity.last_name or None,
        email=identity.email or None,
        image=identity.image or None,
        verified=True,
    )


@dataclasses.dataclass(frozen=True)
class TokenGrant:
    """The answer of ``POST /oauth/token``; ``cookie`` is set when not None."""

    customer: Customer
    access_token: str
    expires_in: int
    third_party: dict[str, Any] | None = None
    cookie: str | None = None
    refresh_only: bool = False


def _transaction_token(channel: Channel, customer: Customer) -> tuple[str, int]:
    issued = token_issue(kind="transaction", channel_pk=channel.pk, customer_pk=customer.pk)
    return issued.token, issued.expires_in


def _third_party_tokens(channel: Channel, customer: Customer) -> dict[str, Any]:
    access = token_issue(kind="tp-access", channel_pk=channel.pk, customer_pk=customer.pk)
    refresh = token_issue(kind="tp-refresh", channel_pk=channel.pk, customer_pk=customer.pk)
    return {
        "access_token": access.token,
        "refresh_token": refresh.token,
        "expires_in": access.expires_in,
        "token_type": "Bearer",
    }


def _grant_anonymous(channel: Channel, body: dict[str, Any]) -> TokenGrant:
    if channel.auth_mode not in {Channel.AuthMode.ANONYMOUS, Channel.AuthMode.NONE}:
        raise ModeNotAllowed()
    identity = body.get("customerIdentity")
    external_id = identity.get("idOnExternalPlatform") if isinstance(identity, dict) else None
    customer = customer_anonymous(channel=channel, external_id=external_id, identity=identity)
    token, expires_in = _transaction_token(channel, customer)
    return TokenGrant(customer=customer, access_token=token, expires_in=expires_in)


def _grant_cookie(channel: Channel, cookie: str | None) -> TokenGrant:
    if channel.auth_mode != Channel.AuthMode.SECURED_COOKIES:
        raise ModeNotAllowed()
    customer = None
    if cookie:
        try:
            customer_pk = signing.loads(cookie, salt=COOKIE_SALT, max_age=COOKIE_MAX_AGE)
        except signing.BadSignature:
            customer_pk = None
        if isinstance(customer_pk, int):
            customer = selectors.customer_get(brand_pk=channel.brand_id, customer_pk=customer_pk)
    if customer is None:
        customer = services.customer_identify(brand=channel.brand, id_on_external_platform=f"parley-{uuid.uuid4()}")
    token, expires_in = _transaction_token(channel, customer)
    new_cookie = signing.dumps(customer.pk, salt=COOKIE_SALT)
    return TokenGrant(customer=customer, access_token=token, expires_in=expires_in, cookie=new_cookie)


def _grant_third_party(channel: Channel, third_party: dict[str, Any]) -> TokenGrant:
    if channel.auth_mode != Channel.AuthMode.THIRD_PARTY:
        raise ModeNotAllowed()
    grant_type = third_party.get("grant_type")
    if grant_type == "refresh_token":
        claims = token_read(kind="tp-refresh", token=third_party.get("refresh_token"), channel_pk=channel.pk)
        customer = claims and selectors.customer_get(brand_pk=channel.brand_id, customer_pk=claims.customer_pk)
        if not customer:
            raise IdentityRefused("The refresh token is invalid or has expired.")
        token, expires_in = _transaction_token(channel, customer)
        return TokenGrant(
            customer=customer,
            access_token=token,
            expires_in=expires_in,
            third_party=_third_party_tokens(channel, customer),
            refresh_only=True,
        )
    if grant_type != "authorization_code":
        raise InvalidInput("grant_type is authorization_code or refresh_token.")
    identity = identity_verify(channel=channel, token=third_party.get("authorization_code"))
    customer = customer_verified(channel=channel, identity=identity)
    token, expires_in = _transaction_token(channel, customer)
    return TokenGrant(
        customer=customer,
        access_token=token,
        expires_in=expires_in,
        third_party=_third_party_tokens(channel, customer),
    )


def token_exchange(*, channel: Channel, body: dict[str, Any], cookie: str | None) -> TokenGrant:
    """Answers one of the four ``POST /oauth/token`` bodies, as the channel's auth mode allows."""
    third_party = body.get("thirdParty")
    if isinstance(third_party, dict):
        return _grant_third_party(channel, third_party)
    if "customerIdentity" in body:
        return _grant_anonymous(channel, body)
    if not body:
        return _grant_cookie(channel, cookie)
    raise InvalidInput("Unknown token request.")


# --- WebSocket handshake ------------------------------------------------------


@dataclasses.dataclass
class Handshake:
    """What the upgrade established. ``customer`` is None in the legacy flow until AuthorizeCustomer."""

    channel: Channel
    customer: Customer | None
    legacy_customer_id: str | None
    visitor_id: str


def handshake_accept(*, query: dict[str, str], origin: str | None, cached: Channel | None = None) -> Handshake:
    """Checks channel, Origin and credentials of an upgrade; raises HandshakeRefused (or NotFound).

    ``cached`` is the process's copy of the query's channel (``channel_cached``):
    then there is no database work at all, and the consumer runs this in the
    event loop. The copy is shared by every socket of the channel: read it,
    never modify it.
    """
    if cached is not None:
        channel = _usable(cached)
    else:
        channel = channel_for_visitors(brand_id=query.get("brandId"), channel_id=query.get("channelId"))
    if not channel.allows_origin(origin):
        raise HandshakeRefused("This website may not open the chat.")
    visitor_id = (query.get("visitorId") or "")[:200]
    token = query.get("transactionToken")
    if token:
        claims = token_read(kind="transaction", token=token, channel_pk=channel.pk)
        if claims is None:
            raise HandshakeRefused("The transaction token is invalid or has expired.")
        customer = customer_from_token(channel=channel, customer_pk=claims.customer_pk)
        return Handshake(channel=channel, customer=customer, legacy_customer_id=None, visitor_id=visitor_id)
    if channel.auth_mode != Channel.AuthMode.NONE:
        raise HandshakeRefused("This channel needs a secured session (transactionToken).")
    customer_id = query.get("customerId") or ""
    if not customer_id.strip() or len(customer_id) > 200:
        raise HandshakeRefused("customerId is required.")
    # Whether the id may be used unsigned is decided by AuthorizeCustomer (a signed code may follow).
    return Handshake(channel=channel, customer=None, legacy_customer_id=customer_id.strip(), visitor_id=visitor_id)
