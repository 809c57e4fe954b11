"""Short-lived signed tokens for URLs (attachments, large events)."""

from __future__ import annotations

from django.core import signing

_SALT = "parley.signed-url"


def sign_value(value: str, *, purpose: str) -> str:
    return signing.TimestampSigner(salt=f"{_SALT}.{purpose}").sign(value)


def unsign_value(token: str, *, purpose: str, max_age: int) -> str | None:
    """The signed value, or None when the token is forged or older than ``max_age`` s."""
    try:
        return signing.TimestampSigner(salt=f"{_SALT}.{purpose}").unsign(token, max_age=max_age)
    except signing.BadSignature:
        return None
