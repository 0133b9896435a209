"""Run metrics for Prometheus, derived from the executions table at scrape time.

Deployment-wide, not per process: every gateway reports the same totals, so aggregate them with
`max` (or scrape one gateway), never `sum`.
"""

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from councilors import selectors


class ExecutionsCollector:
    """`conductor_runs{status,severity}` and `conductor_run_duration_seconds` from the database."""

    def collect(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily(
            "conductor_runs", "Executions in the database by status and severity", labels=["status", "severity"]
        )
        for (status, severity), count in sorted(selectors.executions_by_status_severity().items()):
            runs.add_metric([status, severity], count)
        yield runs
        pairs, total, total_s = selectors.execution_duration_histogram()
        buckets = [(str(float(bound)), count) for bound, count in pairs] + [("+Inf", total)]
        yield HistogramMetricFamily(
            "conductor_run_duration_seconds", "Duration of finished executions", buckets=buckets, sum_value=total_s
        )
