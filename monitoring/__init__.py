"""Operational endpoints: /healthz (the parts the gateway depends on) and /metrics (Prometheus)."""
