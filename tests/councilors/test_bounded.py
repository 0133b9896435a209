"""The one output bound: what is kept, where the markers go, and a worker that stays small whatever a command prints."""

import sys
import time
import tracemalloc

import pytest

from councilors.app_settings import app_settings
from councilors.runners import RunnerError, get_runner
from councilors.runners.bounded import (
    LINE_TRUNCATED,
    NUL_REPLACEMENT,
    TRUNCATION_SLACK,
    BoundedOutput,
    bound_text,
    output_truncated_marker,
)
from tests.councilors.flood import FIFTY_MB_LINE, FIFTY_MB_OF_LINES, OUTPUT_TRUNCATED_LINE

PY = sys.executable
MIB = 1_048_576


def collected(chunks: list[str], **limits: int) -> tuple[str, list[str]]:
    seen: list[str] = []
    output = BoundedOutput(on_output=seen.append, **limits)
    for chunk in chunks:
        output.feed(chunk)
    output.close()
    return output.text(), seen


def test_within_the_limits_the_output_is_unchanged_and_passed_on_line_by_line():
    text, seen = collected(["one\ntw", "o\nthree"], max_bytes=100, max_line_bytes=10)
    assert text == "one\ntwo\nthree"
    assert seen == ["one\n", "two\n", "three"]


def test_past_the_total_limit_the_output_ends_with_one_marker_line():
    text, seen = collected(["aaaa\n", "bbbb\n", "cccc\n", "dddd\n"], max_bytes=12, max_line_bytes=10)
    assert text == "aaaa\nbbbb\ncc\n[output truncated: more than 12 bytes]\n"
    assert seen[-1] == "cc\n[output truncated: more than 12 bytes]\n"
    assert text.count("output truncated") == 1


def test_a_long_line_is_cut_and_marked_and_the_next_line_is_kept():
    text, _ = collected(["x" * 7, "x" * 7, "x\nnext\n"], max_bytes=100, max_line_bytes=10)
    assert text == "x" * 10 + LINE_TRUNCATED % {"limit": 10} + "\nnext\n"


def test_a_cut_never_splits_a_character():
    text, _ = collected(["é" * 10 + "\n"], max_bytes=100, max_line_bytes=5)
    assert text == "éé" + LINE_TRUNCATED % {"limit": 5} + "\n"


def test_nul_characters_are_replaced_since_postgresql_text_cannot_hold_them():
    text, _ = collected(["a\x00b\n"], max_bytes=100, max_line_bytes=10)
    assert text == f"a{NUL_REPLACEMENT}b\n"


def test_chunking_does_not_change_what_is_kept():
    whole = "".join(f"line {n} " + "w" * (n % 37) + "\n" for n in range(300))
    one_go, _ = collected([whole], max_bytes=2000, max_line_bytes=30)
    by_threes, _ = collected([whole[i : i + 3] for i in range(0, len(whole), 3)], max_bytes=2000, max_line_bytes=30)
    assert one_go == by_threes
    assert one_go.endswith("\n[output truncated: more than 2000 bytes]\n")


def test_the_marker_names_the_limit_in_bytes():
    assert output_truncated_marker() == OUTPUT_TRUNCATED_LINE


def test_bound_text_keeps_at_most_the_limit_plus_its_marker():
    bounded = bound_text("0123456789\n" * 1000, max_bytes=500)
    assert len(bounded.encode()) <= 500 + TRUNCATION_SLACK
    assert bounded.endswith("[output truncated: more than 500 bytes]\n")


# --- a hostile command: 50 MB of output ------------------------------------------------------------


def run_command(script: str, **config) -> str:
    return get_runner("command", {"argv": [PY, "-c", script], "timeout": 60, **config}).run("x", {})


@pytest.mark.parametrize("script", [FIFTY_MB_OF_LINES, FIFTY_MB_LINE], ids=["lines", "one-line"])
def test_fifty_megabytes_of_output_finish_bounded_with_the_worker_holding_a_few_megabytes(script):
    tracemalloc.start()
    try:
        started = time.monotonic()
        output = run_command(script)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert time.monotonic() - started < 30
    assert len(output.encode()) <= app_settings.OUTPUT_MAX_BYTES + TRUNCATION_SLACK
    # Everything the runner allocated, in every thread, at its highest: the kept megabyte, a read
    # chunk and the line being read, with room to spare; nowhere near the 50 MB the command printed.
    assert peak < 8 * MIB
    if script == FIFTY_MB_OF_LINES:
        assert output.endswith(f"\n{OUTPUT_TRUNCATED_LINE}\n")
        assert output.startswith("y" * 99 + "\n")
    else:
        assert output == "z" * app_settings.OUTPUT_MAX_LINE_BYTES + " [line truncated: more than 16384 bytes]"


def test_a_command_past_the_limit_is_drained_not_killed_so_its_exit_status_decides():
    with pytest.raises(RunnerError) as excinfo:
        run_command(FIFTY_MB_OF_LINES + "print('last words', file=sys.stderr)\nsys.exit(3)\n")
    assert excinfo.value.reason == "exited with status 3"
    assert excinfo.value.output.endswith("[output truncated: more than 1048576 bytes]\n")


def test_the_limits_are_settings(settings):
    settings.COUNCILORS_OUTPUT_MAX_BYTES = 1000
    settings.COUNCILORS_OUTPUT_MAX_LINE_BYTES = 50
    output = run_command("print('a' * 80)\nfor n in range(1000): print(n)")
    assert output.startswith("a" * 50 + " [line truncated: more than 50 bytes]\n0\n1\n")
    assert output.endswith("[output truncated: more than 1000 bytes]\n")
    assert len(output.encode()) <= 1000 + TRUNCATION_SLACK


def big_answer(prompt: str, context: dict) -> str:
    return "q" * 100 + "\n" + "r" * 5000


@pytest.mark.usefixtures("allow_test_callables")
def test_the_python_runner_is_bounded_the_same_way(settings):
    settings.COUNCILORS_OUTPUT_MAX_BYTES = 2000
    settings.COUNCILORS_OUTPUT_MAX_LINE_BYTES = 1000
    output = get_runner("python", {"callable": "tests.councilors.test_bounded.big_answer"}).run("x", {})
    assert output == "q" * 100 + "\n" + "r" * 1000 + " [line truncated: more than 1000 bytes]"
