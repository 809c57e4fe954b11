"""Who is at the other end of a visitor connection: the secured-session exchange and the handshake.

Identity rules (docs/visitor-protocol.md §Identity):

- an anonymous customer id (legacy ``customerId`` query, ``anonymous`` token
  body) is only ever an id within the channel's brand, and never one that a
  signed token has verified: such ids need the signature again;
- a company-managed id is accepted only as a verified JWT (``chat.gateway.identity``);
- ``securedCookies`` ids are minted by Parley and kept in a signed HttpOnly cookie;
- a transaction token binds a socket to one customer of one channel.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from django.core import signing

from chat import selectors, services
from chat.gateway.identity import IdentityRefused, VerifiedIdentity, identity_verify
from chat.gateway.tokens import token_issue, token_read
from chat.models import Customer
from engage.errors import InvalidInput, NotFound, ParleyError, PermissionDenied
from engage.models import Channel
from engage.selectors import channel_get_public

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


def channel_for_visitors(*, brand_id: Any, channel_id: Any) -> Channel:
    """The active channel named by the public pair, or NotFound / ChannelUnavailable."""
    if not isinstance(channel_id, str) or not channel_id:
        raise NotFound("Unknown brand or channel.")
    channel = channel_get_public(brand_id=brand_id, channel_id=channel_id)
    if channel.status == Channel.Status.DISABLED:
        raise NotFound("Unknown brand or channel.")
    if not channel.is_active:
        raise ChannelUnavailable()
    return channel


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


def handshake_accept(*, query: dict[str, str], origin: str | None) -> Handshake:
    """Checks channel, Origin and credentials of an upgrade; raises HandshakeRefused (or NotFound)."""
    channel = channel_for_visitors(brand_id=query.get("brandId"), channel_id=query.get("channelId"))
    if not channel.allows_origin(origin):
        raise HandshakeRefused("This website may not open the chat.")
    visitor_id = (query.get("visitorId") or "")[:200]
    token = query.get("transactionToken")
    if token:
        claims = token_read(kind="transaction", token=token, channel_pk=channel.pk)
        customer = claims and selectors.customer_get(brand_pk=channel.brand_id, customer_pk=claims.customer_pk)
        if not customer:
            raise HandshakeRefused("The transaction token is invalid or has expired.")
        return Handshake(channel=channel, customer=customer, legacy_customer_id=None, visitor_id=visitor_id)
    if channel.auth_mode != Channel.AuthMode.NONE:
        raise HandshakeRefused("This channel needs a secured session (transactionToken).")
    customer_id = query.get("customerId") or ""
    if not customer_id.strip() or len(customer_id) > 200:
        raise HandshakeRefused("customerId is required.")
    # Whether the id may be used unsigned is decided by AuthorizeCustomer (a signed code may follow).
    return Handshake(channel=channel, customer=None, legacy_customer_id=customer_id.strip(), visitor_id=visitor_id)
