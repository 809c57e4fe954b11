import io

from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from chat import services
from chat.models import Message
from engage.lib import crypto


def _stored_token() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM chat_message")
        return cursor.fetchone()[0]


def test_rotation_re_encrypts_with_the_new_key_and_old_key_can_go(acme, settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old_key]
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="r")
    services.message_create(thread=thread, author_type="customer", content={"text": "secret"}, client_id="1")
    assert Fernet(old_key.encode()).decrypt(_stored_token().encode())

    settings.ENCRYPTION_KEYS = [new_key, old_key]
    output = io.StringIO()
    call_command("rotate_encryption", stdout=output)
    assert output.getvalue() == "Re-encrypted 1 messages.\n"
    assert Fernet(new_key.encode()).decrypt(_stored_token().encode())

    settings.ENCRYPTION_KEYS = [new_key]
    assert Message.objects.get(client_id="1").text == "secret"


def test_a_token_from_an_unknown_key_is_refused(settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    token = crypto.encrypt("x")
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    try:
        crypto.decrypt(token)
    except ValueError as error:
        assert "no configured key fits" in str(error)
    else:
        raise AssertionError("decrypt accepted a foreign token")
