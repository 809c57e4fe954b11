"""Company-managed customer ids: a JWT signed by the company, verified per channel.

A company proves "this visitor is our customer X" by signing ``{"sub": "X",
"exp": …}`` with the channel's ``identity_secret`` (HS256) or with the private
key whose public half is the channel's ``identity_public_key`` (RS256/ES256).
The token travels as the third-party ``authorization_code`` or as the legacy
``AuthorizeCustomer`` code. Anything else is refused. See docs/visitor-protocol.md.
"""

from __future__ import annotations

import dataclasses

import jwt

from engage.errors import PermissionDenied
from engage.models import Channel

ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
MAX_TOKEN_LENGTH = 8192
LEEWAY_SECONDS = 30


class IdentityRefused(PermissionDenied):
    """The signed customer id is missing, forged or expired."""

    code = "identity_refused"


@dataclasses.dataclass(frozen=True)
class VerifiedIdentity:
    """Who the company says the visitor is; names are optional claims."""

    customer_id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    image: str = ""


def _claim(claims: dict, name: str, limit: int) -> str:
    value = claims.get(name)
    return value[:limit] if isinstance(value, str) else ""


def identity_verify(*, channel: Channel, token: object) -> VerifiedIdentity:
    """Verifies the company's JWT for ``channel``; raises IdentityRefused otherwise.

    ``exp`` is required. An ``aud`` claim, when present, must name the channel as
    ``"<brandId>/<channelId>"``. The public key wins over the shared secret when
    both are configured, so a leaked embed page cannot mint identities.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise IdentityRefused()
    if channel.identity_public_key.strip():
        key, algorithms = channel.identity_public_key, ASYMMETRIC_ALGORITHMS
    else:
        key, algorithms = channel.identity_secret, ["HS256"]
    audience = f"{channel.brand.brand_id}/{channel.channel_id}"
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            options={"require": ["exp", "sub"], "verify_aud": False},
            leeway=LEEWAY_SECONDS,
        )
    except (jwt.PyJWTError, ValueError, TypeError):
        raise IdentityRefused() from None
    if "aud" in claims and audience not in ([claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"]):
        raise IdentityRefused("The signed customer id is for another channel.")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > 200:
        raise IdentityRefused()
    return VerifiedIdentity(
        customer_id=subject.strip(),
        first_name=_claim(claims, "given_name", 120),
        last_name=_claim(claims, "family_name", 120),
        email=_claim(claims, "email", 254),
        image=_claim(claims, "picture", 500),
    )
