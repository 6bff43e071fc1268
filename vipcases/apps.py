from django.apps import AppConfig


class VipcasesConfig(AppConfig):
    name = "vipcases"
    verbose_name = "Cases"
