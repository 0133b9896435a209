from django.apps import AppConfig


class CouncilorsConfig(AppConfig):
    name = "councilors"
    verbose_name = "Councilors"

    def ready(self) -> None:
        from councilors import checks, control, signals  # noqa: F401 - registers the system checks and the receiver

        control.register()  # pause / resume / run on the WebSocket
