"""Durations and moments as people read them (infrastructure/formatting.py), in English and Portuguese."""

import json
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from django.utils import translation

from infrastructure.commands import shell_language
from infrastructure.formatting import NOTHING, duration_text, moment_text
from tests.processes import PROJECT_DIR


@pytest.mark.parametrize(
    ("duration_ms", "english", "portuguese"),
    [
        (0, "0ms", "0 ms"),
        (8, "8ms", "8 ms"),
        (99.4, "99ms", "99 ms"),
        (99.5, "0.1s", "0,1 s"),
        (1000, "1s", "1 s"),
        (2100, "2.1s", "2,1 s"),
        (9949, "9.9s", "9,9 s"),
        (9950, "10s", "10 s"),
        (15_000, "15s", "15 s"),
        (59_499, "59s", "59 s"),
        (59_500, "1m 0s", "1 min 0 s"),
        (125_000, "2m 5s", "2 min 5 s"),
        (3_840_000, "1h 4m", "1 h 4 min"),
    ],
)
def test_one_duration_rule_in_each_language(duration_ms, english, portuguese):
    with translation.override("en"):
        assert duration_text(duration_ms) == english
    with translation.override("pt-br"):
        assert duration_text(duration_ms) == portuguese


@pytest.mark.parametrize("value", [None, "", -1, True])
def test_an_unknown_duration_is_a_dash(value):
    assert duration_text(value) == NOTHING


def test_moments_use_the_languages_formats():
    moment = datetime(2026, 12, 6, 14, 8, 44, tzinfo=UTC)
    with translation.override("pt-br"):
        assert moment_text(moment, short=True) == "06/12/2026 14:08"
    with translation.override("en"):
        assert moment_text(moment, short=True) == "12/06/2026 2:08 p.m."
    assert moment_text(None) == NOTHING


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({"LANG": "pt_BR.UTF-8"}, "pt-br"),
        ({"LC_ALL": "pt_BR.utf8", "LANG": "en_US.UTF-8"}, "pt-br"),
        ({"LC_MESSAGES": "pt_PT.UTF-8"}, "pt-br"),
        ({"LANG": "en_GB.UTF-8"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_commands_speak_the_shells_language(environ, language):
    assert shell_language(environ) == language


SCRIPT = """
import { formatDateTime } from "./static/js/gamification/format.js";
const [iso, zone] = JSON.parse(process.argv[1]);
process.stdout.write(JSON.stringify(["en", "pt-br"].map((locale) => formatDateTime(iso, { locale, timeZone: zone }))));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the pages' formatting (CI installs it)")
@pytest.mark.parametrize(
    "moment", [datetime(2026, 12, 6, 14, 8, 44, tzinfo=UTC), datetime(2027, 5, 1, 3, 0, 9, tzinfo=UTC)]
)
def test_a_moment_reads_the_same_from_the_server_and_from_the_pages_scripts(settings, moment):
    # The admin and a page's first rendering (Django's DATETIME_FORMAT), then the page's script (Intl):
    # one format, not "Dec. 6, 2026, 2:08 p.m." turning into "Dec 6, 2026, 2:08:44 PM".
    settings.TIME_ZONE = "America/Sao_Paulo"
    result = subprocess.run(
        ["node", "--input-type=module", "-e", SCRIPT, json.dumps([moment.isoformat(), settings.TIME_ZONE])],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    scripts = [text.replace("\u202f", " ") for text in json.loads(result.stdout)]  # ICU's narrow space before PM
    server = []
    for language in ("en", "pt-br"):
        with translation.override(language):
            server.append(moment_text(moment))
    assert server == scripts
