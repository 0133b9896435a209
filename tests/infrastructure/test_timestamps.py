"""infrastructure.timestamps: the one way times are written for clients."""

from datetime import UTC, datetime, timedelta, timezone

from infrastructure.timestamps import iso_utc, iso_utc_or_none


def test_utc_to_the_millisecond_with_z():
    assert iso_utc(datetime(2026, 11, 25, 17, 30, 0, 123456, tzinfo=UTC)) == "2026-11-25T17:30:00.123Z"


def test_a_whole_second_keeps_its_milliseconds():
    assert iso_utc(datetime(2026, 11, 25, 17, 30, tzinfo=UTC)) == "2026-11-25T17:30:00.000Z"


def test_another_offset_is_converted_to_utc():
    sao_paulo = timezone(timedelta(hours=-3))
    assert iso_utc(datetime(2026, 11, 25, 14, 30, 0, 5000, tzinfo=sao_paulo)) == "2026-11-25T17:30:00.005Z"


def test_a_naive_moment_is_taken_as_utc():
    assert iso_utc(datetime(2026, 11, 25, 17, 30)) == "2026-11-25T17:30:00.000Z"


def test_python_reads_it_back_to_the_millisecond():
    moment = datetime(2026, 11, 25, 17, 30, 0, 123999, tzinfo=UTC)
    assert datetime.fromisoformat(iso_utc(moment)) == moment.replace(microsecond=123000)


def test_none_passes_through():
    assert iso_utc_or_none(None) is None
    assert iso_utc_or_none(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000Z"
