from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """/healthz for load balancers and /metrics for Prometheus."""

    name = "monitoring"
    verbose_name = "Monitoring"
