from django.apps import AppConfig


class EngageConfig(AppConfig):
    name = "engage"
    verbose_name = "Tenancy"

    def ready(self) -> None:
        from engage import signals

        signals.connect()
