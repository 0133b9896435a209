"""The README and docs/ stay usable: the README is short, and every link in them resolves."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# The operator's page: the two commands, the full configuration table (tests/conductor/test_settings.py reads it),
# commands, security and deployment; the explanations live in docs/.
README_MAX_LINES = 360
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def anchors(path: Path) -> set[str]:
    in_code = False
    found = set()
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif line.startswith("#") and not in_code:
            found.add(slug(line.lstrip("#")))
    return found


def test_the_readme_stays_under_its_length():
    assert len((ROOT / "README.md").read_text().splitlines()) < README_MAX_LINES


def test_every_relative_link_in_the_readme_and_docs_resolves():
    checked = 0
    for document in DOCUMENTS:
        for target in LINK.findall(document.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # an absolute URL
            path_part, _, anchor = target.partition("#")
            path = (document.parent / path_part).resolve() if path_part else document
            assert path.exists(), f"{document.name}: {target} points at nothing"
            if anchor:
                assert anchor in anchors(path), f"{document.name}: {target} names no heading of {path.name}"
            checked += 1
    assert checked >= 10  # the documents do link to each other (vacuous otherwise)
