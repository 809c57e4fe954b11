"""Signed customer ids as a company's backend would mint them (tests only)."""

from __future__ import annotations

import time

import jwt


def company_jwt(channel, subject: str, *, ttl: int = 300, **claims) -> str:  # type: ignore[no-untyped-def]
    return jwt.encode({"sub": subject, "exp": int(time.time()) + ttl, **claims}, channel.identity_secret, "HS256")
