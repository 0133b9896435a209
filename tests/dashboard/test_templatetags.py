"""The pages' durations read as the scripts write them (static/js/gamification/titles.js formatSeconds)."""

import pytest

from dashboard.templatetags.runs import duration, severity_label, status_label


@pytest.mark.parametrize(
    ("duration_ms", "text"),
    [
        (0, "0ms"),
        (23, "23ms"),
        (99, "99ms"),
        (100, "0.1s"),
        (999, "1s"),
        (1000, "1s"),
        (1250, "1.3s"),
        (9949, "9.9s"),
        (9950, "10s"),
        (15000, "15s"),
        (125600, "2m 6s"),
        (None, "—"),
        ("", "—"),
    ],
)
def test_durations_below_a_second_keep_their_meaning(duration_ms, text):
    assert duration(duration_ms) == text


def test_labels_in_english_by_default():
    assert [status_label(status) for status in ("queued", "running", "completed", "error")] == [
        "Queued",
        "Running",
        "Completed",
        "Error",
    ]
    assert [severity_label(severity) for severity in ("success", "warning", "error", None)] == [
        "Success",
        "Warning",
        "Error",
        "—",
    ]
