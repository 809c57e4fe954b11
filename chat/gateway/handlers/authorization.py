"""The unsecured (legacy) flow's requests: AuthorizeCustomer, ReconnectConsumer, RefreshToken."""

from __future__ import annotations

from chat import selectors
from chat.gateway.handlers.common import (
    Frames,
    customer_bind,
    customer_of,
)
from chat.gateway.identity import identity_verify
from chat.gateway.protocol import (
    ClientFrame,
    cxone_custom_fields,
    cxone_customer_identity,
    cxone_postback,
)
from chat.gateway.sessions import customer_anonymous, customer_verified
from chat.gateway.state import ConnectionState
from chat.gateway.tokens import token_issue, token_read
from chat.models import Customer
from engage.errors import PermissionDenied


def authorize_customer(state: ConnectionState, frame: ClientFrame) -> Frames:
    authorization = frame.data.get("authorization")
    code = authorization.get("authorizationCode") if isinstance(authorization, dict) else None
    if state.customer is not None and not code:
        customer = customer_of(state)
    elif code:
        customer = customer_verified(channel=state.channel, identity=identity_verify(channel=state.channel, token=code))
    else:
        customer = customer_anonymous(
            channel=state.channel,
            external_id=state.legacy_customer_id,
            identity=frame.payload.get("consumerIdentity"),
        )
    customer_bind(state, customer)
    access = token_issue(kind="legacy", channel_pk=state.channel.pk, customer_pk=customer.pk)
    data = {
        "consumerIdentity": cxone_customer_identity(customer),
        "accessToken": {"token": access.token, "expiresIn": access.expires_in},
        "customer": {"customFields": cxone_custom_fields(customer.custom_fields)},
        "contact": {"customFields": []},
    }
    return [
        cxone_postback(frame.event_id, "ConsumerAuthorized", data, status="success", authorizationStatus="authorized")
    ]


def _legacy_token_customer(state: ConnectionState, frame: ClientFrame) -> Customer:
    access = frame.data.get("accessToken")
    token = access.get("token") if isinstance(access, dict) else None
    claims = token_read(kind="legacy", token=token, channel_pk=state.channel.pk)
    customer = claims and selectors.customer_get(brand_pk=state.channel.brand_id, customer_pk=claims.customer_pk)
    if not customer:
        raise PermissionDenied("The access token is invalid or has expired.")
    return customer


def reconnect_consumer(state: ConnectionState, frame: ClientFrame) -> Frames:
    customer_bind(state, _legacy_token_customer(state, frame))
    return [cxone_postback(frame.event_id, "ConsumerReconnected", {})]


def refresh_token(state: ConnectionState, frame: ClientFrame) -> Frames:
    customer = _legacy_token_customer(state, frame)
    if state.customer is not None and state.customer.pk != customer.pk:
        raise PermissionDenied("The access token belongs to another customer.")
    access = token_issue(kind="legacy", channel_pk=state.channel.pk, customer_pk=customer.pk)
    return [
        cxone_postback(
            frame.event_id, "TokenRefreshed", {"accessToken": {"token": access.token, "expiresIn": access.expires_in}}
        )
    ]
