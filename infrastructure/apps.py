from django.apps import AppConfig


class InfrastructureConfig(AppConfig):
    """What several apps share: Redis access, tokens, API authentication, streaming responses."""

    name = "infrastructure"
    verbose_name = "Shared infrastructure"
