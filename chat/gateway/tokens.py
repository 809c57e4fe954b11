"""Tokens the visitor gateway issues: signed, expiring, bound to one customer of one channel.

Each token is ``django.core.signing`` output (HMAC with SECRET_KEY, a salt per
kind), so validating one needs no database read. Kinds:

- ``transaction``: the secured-session token of ``POST /oauth/token``, carried in
  the WebSocket query as ``transactionToken``;
- ``legacy``: the ``accessToken`` of ConsumerAuthorized, used by ReconnectConsumer
  and RefreshToken;
- ``tp-access`` / ``tp-refresh``: Parley's third-party access and refresh tokens;
- ``authorization``: the GenerateAuthorizationToken answer, bound to a thread.

See docs/visitor-protocol.md.
"""

from __future__ import annotations

import dataclasses

from django.conf import settings
from django.core import signing

_SALT = "parley.gateway.token"
MAX_TOKEN_LENGTH = 2048


def _ttl(kind: str) -> int:
    defaults = {
        "transaction": 3600,
        "legacy": 3600,
        "tp-access": 3600,
        "tp-refresh": 30 * 24 * 3600,
        "authorization": 600,
    }
    return int(getattr(settings, "PARLEY_VISITOR_TOKEN_TTLS", {}).get(kind, defaults[kind]))


@dataclasses.dataclass(frozen=True)
class TokenClaims:
    """What a valid token says: the channel and customer (primary keys) it binds."""

    kind: str
    channel_pk: int
    customer_pk: int
    thread_pk: int | None = None


@dataclasses.dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int


def token_issue(*, kind: str, channel_pk: int, customer_pk: int, thread_pk: int | None = None) -> IssuedToken:
    payload: dict[str, int] = {"c": channel_pk, "u": customer_pk}
    if thread_pk is not None:
        payload["t"] = thread_pk
    token = signing.dumps(payload, salt=f"{_SALT}.{kind}", compress=False)
    return IssuedToken(token=token, expires_in=_ttl(kind))


def token_read(*, kind: str, token: object, channel_pk: int | None = None) -> TokenClaims | None:
    """The claims of a genuine, unexpired token of ``kind`` (and of ``channel_pk`` if given), else None."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        payload = signing.loads(token, salt=f"{_SALT}.{kind}", max_age=_ttl(kind))
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("c"), int) or not isinstance(payload.get("u"), int):
        return None
    if channel_pk is not None and payload["c"] != channel_pk:
        return None
    thread_pk = payload.get("t")
    return TokenClaims(kind=kind, channel_pk=payload["c"], customer_pk=payload["u"], thread_pk=thread_pk)
