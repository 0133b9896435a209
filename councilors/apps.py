from django.apps import AppConfig


class CouncilorsConfig(AppConfig):
    name = "councilors"
    verbose_name = "Councilors"
