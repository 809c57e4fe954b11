"""Re-encrypts stored message contents with the first key of PARLEY_ENCRYPTION_KEYS."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from chat.models import Message


class Command(BaseCommand):
    help = "Re-encrypt every message with the current (first) encryption key."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: object, **options: object) -> None:
        total = 0
        # Reading decrypts with any configured key; writing encrypts with the first.
        for message in Message.objects.order_by("pk").only("pk", "content").iterator(chunk_size=options["batch_size"]):  # type: ignore[arg-type]
            Message.objects.filter(pk=message.pk).update(content=message.content)
            total += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {total} messages."))
