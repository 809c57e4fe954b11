from django.apps import AppConfig


class ByocConfig(AppConfig):
    name = "byoc"
    verbose_name = "Integrations"
