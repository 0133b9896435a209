"""One verdict per run (councilors/verdicts.py), worded the same by the server and the scripts."""

import json
import shutil
import subprocess

import pytest
from django.utils import translation

from councilors.verdicts import VERDICTS, run_verdict
from tests.processes import PROJECT_DIR

CASES = [
    ("queued", ""),
    ("running", ""),
    ("completed", "success"),
    ("completed", "warning"),
    ("completed", "error"),
    ("error", "error"),
    ("cancelled", ""),
    ("timed_out", "error"),
]
SCRIPT = """
import { runVerdict } from "./static/js/gamification/verdict.js";
const cases = JSON.parse(process.argv[1]);
console.log(JSON.stringify(cases.map(([status, severity]) => runVerdict(status, severity))));
"""


def test_each_status_and_severity_reads_as_one_verdict():
    with translation.override("en"):
        labels = [str(run_verdict(status, severity).label) for status, severity in CASES]
    assert labels == [
        "Queued",
        "Running",
        "Succeeded",
        "Completed with warnings",
        "Completed, reported errors",
        "Failed",
        "Cancelled",
        "Timed out",
    ]
    assert len({run_verdict(*case).key for case in CASES}) == len(CASES) == len(VERDICTS)


def test_in_portuguese():
    with translation.override("pt-br"):
        assert str(run_verdict("completed", "error").label) == "Concluída, relatou erros"
        assert str(run_verdict("error", "error").label) == "Falhou"


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the scripts' table (CI installs it)")
def test_the_scripts_table_is_the_servers():
    result = subprocess.run(
        ["node", "--input-type=module", "-e", SCRIPT, json.dumps(CASES)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    scripts = json.loads(result.stdout)
    with translation.override("en"):
        server = [run_verdict(status, severity) for status, severity in CASES]
    assert [(v["key"], v["tone"], v["icon"], v["label"]) for v in scripts] == [
        (v.key, v.tone, v.icon, str(v.label)) for v in server
    ]
