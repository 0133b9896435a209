from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class CouncilorsConfig(AppConfig):
    name = "councilors"
    verbose_name = gettext_lazy("Councilors")  # the admin's section

    def ready(self) -> None:
        from councilors import checks, control, signals  # noqa: F401 - registers the system checks and the receiver

        control.register()  # pause / resume / run on the WebSocket
        from councilors.run_errors import run_error_text
        from councilors.runners.base import reader_language_install

        reader_language_install(run_error_text)  # refusals of runner settings in the reader's language
