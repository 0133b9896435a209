"""System checks for the worker configuration django-q2 itself only warns about."""

from django.conf import settings
from django.core import checks

TIMEOUT_RETRY_CONFLICT = (
    "Q_CLUSTER['timeout'] ({timeout}) must be set and smaller than Q_CLUSTER['retry'] ({retry}): the ORM broker "
    "hands a task to another worker after `retry` seconds, so a slow run would be delivered twice."
)
TIMEOUT_RETRY_HINT = "Set Q_TIMEOUT below Q_RETRY (defaults: 900 and 960)."
BROKER_NOT_ORM = "Q_CLUSTER['orm'] is not set: councilor runs need the ORM broker, which keeps a task until it is done."


@checks.register(checks.Tags.compatibility)
def check_worker_timeouts(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Refuse a timeout that is missing or not below retry; require the ORM broker."""
    conf = getattr(settings, "Q_CLUSTER", {})
    errors = []
    timeout, retry = conf.get("timeout"), conf.get("retry", 60)
    if not timeout or timeout >= retry:
        errors.append(
            checks.Error(
                TIMEOUT_RETRY_CONFLICT.format(timeout=timeout, retry=retry),
                hint=TIMEOUT_RETRY_HINT,
                id="councilors.E001",
            )
        )
    if not conf.get("orm"):
        errors.append(checks.Error(BROKER_NOT_ORM, id="councilors.E002"))
    return errors
