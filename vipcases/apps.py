from django.apps import AppConfig


class VipcasesConfig(AppConfig):
    name = "vipcases"
    verbose_name = "Cases"

    def ready(self):
        from vipcases.security import connect_signals

        connect_signals()
