from django.apps import AppConfig


class GuideConfig(AppConfig):
    name = "guide"
    verbose_name = "Proactive engagement"

    def ready(self) -> None:
        from guide import subscribers
        from guide.loader.config import register_contributor
        from guide.proactive.config import loader_contribution

        subscribers.register()
        # The loader inlines the channel's triggers and chat items (no second request to decide).
        register_contributor(loader_contribution)
