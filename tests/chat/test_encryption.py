import base64
import io
import json

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.management import call_command
from django.db import connection

from chat import services
from chat.models import Message
from engage.lib import crypto


def _stored_token() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM chat_message")
        return cursor.fetchone()[0]


def _store_raw(token: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE chat_message SET content = %s", [token])


def _open_independently(token: str, key: str) -> bytes:
    """The documented format, opened without Parley's code: v2:<id>:<b64url(nonce ‖ ciphertext ‖ tag)>,
    AES-256-GCM-SIV with the header as associated data."""
    prefix, key_id, sealed = token.split(":")
    assert prefix == "v2"
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"parley: content encryption, AES-256-GCM-SIV"
    ).derive(base64.urlsafe_b64decode(key))
    assert len(key_id) == 8
    raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    return AESGCMSIV(derived).decrypt(raw[:12], raw[12:], f"v2:{key_id}".encode())


def test_contents_are_stored_with_aes_gcm_siv_under_the_first_key(acme, settings):
    key = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [key, Fernet.generate_key().decode()]
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="g")
    services.message_create(thread=thread, author_type="customer", content={"text": "secret é"}, client_id="1")

    token = _stored_token()
    assert "secret" not in token
    assert json.loads(_open_independently(token, key)) == {
        "text": "secret é",
        "payload": {},
        "postback": None,
        "fallbackText": "secret é",
    }
    assert Message.objects.get(client_id="1").text == "secret é"


def test_each_value_gets_its_own_nonce(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    first, second = crypto.encrypt("same"), crypto.encrypt("same")
    assert first != second
    assert crypto.decrypt(first) == crypto.decrypt(second) == "same"


def test_contents_written_as_fernet_tokens_still_read_and_rotate_to_the_new_format(acme, settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old_key]
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="r")
    services.message_create(thread=thread, author_type="customer", content={"text": "secret"}, client_id="1")
    legacy = Fernet(old_key.encode()).encrypt(b'{"text":"secret","payload":{},"postback":null,"fallbackText":null}')
    _store_raw(legacy.decode())
    assert Message.objects.get(client_id="1").text == "secret"

    settings.ENCRYPTION_KEYS = [new_key, old_key]
    output = io.StringIO()
    call_command("rotate_encryption", stdout=output)
    assert output.getvalue() == "Re-encrypted 1 messages.\n"
    assert json.loads(_open_independently(_stored_token(), new_key))["text"] == "secret"

    settings.ENCRYPTION_KEYS = [new_key]
    assert Message.objects.get(client_id="1").text == "secret"


@pytest.mark.parametrize("legacy", [False, True], ids=["aes-gcm-siv", "fernet"])
def test_a_token_from_an_unknown_key_is_refused(settings, legacy):
    key = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [key]
    token = Fernet(key.encode()).encrypt(b"x").decode() if legacy else crypto.encrypt("x")
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ValueError, match="no configured key fits"):
        crypto.decrypt(token)


def test_a_damaged_token_is_refused(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    token = crypto.encrypt("x")
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(ValueError, match="damaged or not from this key"):
        crypto.decrypt(flipped)


def test_a_key_that_is_not_32_bytes_is_refused_with_a_clear_error(settings):
    settings.ENCRYPTION_KEYS = [base64.urlsafe_b64encode(b"short").decode()]
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.encrypt("x")


def test_a_value_moved_under_another_key_id_is_refused(settings):  # type: ignore[no-untyped-def]
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [first, second]
    token = crypto.encrypt("x")
    _, key_id, sealed = token.split(":")
    other_id = next(found for found in crypto.keyring().by_id if found != key_id)
    with pytest.raises(ValueError, match="damaged or not from this key"):
        crypto.decrypt(f"v2:{other_id}:{sealed}")


def test_a_key_listed_twice_is_refused_with_a_clear_error(settings):  # type: ignore[no-untyped-def]
    key = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [key, key]
    with pytest.raises(ValueError, match="twice"):
        crypto.encrypt("x")
