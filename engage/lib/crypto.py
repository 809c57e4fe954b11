"""Encryption at rest with rotatable keys: AES-256-GCM-SIV, and Fernet tokens still read.

``PARLEY_ENCRYPTION_KEYS`` lists keys in Fernet's form (32 random bytes, URL-safe
base64); the first encrypts, every key decrypts. To rotate: put a new key
first, keep the old ones until ``manage.py rotate_encryption`` has re-encrypted
the stored messages, then drop them.

A value is stored as ``v2:<key id>:<nonce, ciphertext and tag>`` (text, the
last part URL-safe base64 without padding): AES-256-GCM-SIV (RFC 8452) with a
random 96-bit nonce and the value's header (``v2:<key id>``) as associated
data, under a key derived from the configured one with HKDF-SHA256, so the same
setting serves both formats and no key material is used for two purposes. The
key id (8 hex digits of a SHA-256 of the derived key) names the key that
decrypts, so a reader tries one key, not each; two keys with the same id are
refused. GCM-SIV rather than GCM: it resists a repeated nonce (one reveals only
that the same plaintext was stored twice), where plain GCM with random nonces
must retire a key after 2^32 values (NIST SP 800-38D), about 16 days at 3 000
messages a second.

Values written before this format are Fernet tokens (AES-128-CBC + HMAC,
``gAAAA…``). They still decrypt with the same keys, and ``rotate`` (as
``rotate_encryption`` does) writes them again in the new format. The format
changed for the write path's CPU: under a loaded gateway, with the caches
cold, a Fernet encryption cost 80 µs of CPU (an OpenSSL cipher and HMAC context
set up per value) and an AES-GCM one 8 µs (docs/performance.md, "Seventh
session"); GCM-SIV costs about twice GCM, a few µs.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import os
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.db import models

from engage.lib import jsontext
from engage.lib.cached_settings import setting

PREFIX = "v2:"
_NONCE_BYTES = 12
_HKDF_INFO = b"parley: content encryption, AES-256-GCM-SIV"


@dataclasses.dataclass(frozen=True)
class Keyring:
    """The configured keys, ready to use: the first encrypts, all decrypt."""

    primary_id: str
    primary_header: str  # ``v2:<key id>``, also the associated data
    primary: AESGCMSIV
    by_id: dict[str, AESGCMSIV]
    legacy: MultiFernet

    @classmethod
    def of(cls, keys: tuple[str, ...]) -> Keyring:
        if not keys:
            raise ValueError("PARLEY_ENCRYPTION_KEYS lists no key.")
        ciphers: list[tuple[str, AESGCMSIV]] = []
        for key in keys:
            try:
                material = base64.urlsafe_b64decode(key.encode())
            except (binascii.Error, ValueError) as error:
                raise ValueError("An encryption key is not URL-safe base64.") from error
            if len(material) != 32:
                raise ValueError("An encryption key is 32 bytes, URL-safe base64 (a Fernet key).")
            derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(material)
            ciphers.append((hashlib.sha256(derived).hexdigest()[:8], AESGCMSIV(derived)))
        by_id = dict(ciphers)
        if len(by_id) != len(ciphers):
            raise ValueError("PARLEY_ENCRYPTION_KEYS lists a key twice, or two keys with the same id: drop one.")
        return cls(
            primary_id=ciphers[0][0],
            primary_header=f"{PREFIX}{ciphers[0][0]}",
            primary=ciphers[0][1],
            by_id=by_id,
            legacy=MultiFernet([Fernet(key.encode()) for key in keys]),
        )


@lru_cache(maxsize=4)
def _keyring(keys: tuple[str, ...]) -> Keyring:
    return Keyring.of(keys)


def keyring() -> Keyring:
    return _keyring(tuple(setting("ENCRYPTION_KEYS")))


def encrypt_bytes(plaintext: bytes) -> str:
    """The stored form of ``plaintext``, under the first key."""
    keys = keyring()
    header = keys.primary_header
    nonce = os.urandom(_NONCE_BYTES)
    sealed = base64.urlsafe_b64encode(nonce + keys.primary.encrypt(nonce, plaintext, header.encode())).rstrip(b"=")
    return f"{header}:{sealed.decode()}"


def encrypt(plaintext: str) -> str:
    return encrypt_bytes(plaintext.encode())


def decrypt_bytes(token: str) -> bytes:
    """The plaintext of a stored value, in either format; ValueError if no configured key fits."""
    keys = keyring()
    if not token.startswith(PREFIX):
        try:
            return keys.legacy.decrypt(token.encode())
        except InvalidToken as error:
            raise ValueError("cannot decrypt: no configured key fits") from error
    key_id, _, sealed = token[len(PREFIX) :].partition(":")
    cipher = keys.by_id.get(key_id)
    if cipher is None:
        raise ValueError("cannot decrypt: no configured key fits")
    try:
        raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
        header = token[: len(PREFIX) + len(key_id)]  # ``v2:<key id>``, the associated data
        return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], header.encode())
    except (binascii.Error, ValueError, InvalidTag) as error:
        raise ValueError("cannot decrypt: the value is damaged or not from this key") from error


def decrypt(token: str) -> str:
    return decrypt_bytes(token).decode()


def rotate(token: str) -> str:
    """The value again under the first key, in the current format."""
    return encrypt_bytes(decrypt_bytes(token))


class EncryptedJSONField(models.TextField):
    """A JSON value stored encrypted (see the module). Not searchable in the database."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return jsontext.loads(decrypt_bytes(value))

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt_bytes(jsontext.dumps_utf8(value))
