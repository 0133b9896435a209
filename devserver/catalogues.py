"""The translation catalogues (docs/dashboard.md, "Languages"): extract, compile, check.

`python -m devserver.catalogues` (`make messages`) extracts every marked message of the templates,
Python code and scripts into locale/pt_BR/LC_MESSAGES/{django,djangojs}.po (Django's makemessages,
which needs GNU gettext) and compiles them to .mo files with polib (pure Python). The .mo files are
committed, so a fresh clone runs translated with nothing but Python; tests/test_i18n.py checks that
they match the .po files and that no message is missing, fuzzy or empty.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "locale"
LANGUAGES = ("pt_BR",)
DOMAINS = ("django", "djangojs")
# Where makemessages does not look: generated or third-party files, tests, tooling.
IGNORED = ("var", "docs", "bench", "tests", "static/js/tests", "node_modules")


def makemessages_args(domain: str, locale: str) -> list[str]:
    """The makemessages command line for one domain (shared with the missing-message check)."""
    ignored = [f"--ignore={pattern}" for pattern in IGNORED]
    return ["makemessages", "--domain", domain, "--locale", locale, "--add-location=file", *ignored]


def po_paths(root: Path = ROOT) -> list[Path]:
    return [root / "locale" / locale / "LC_MESSAGES" / f"{domain}.po" for locale in LANGUAGES for domain in DOMAINS]


def compile_catalogues(root: Path = ROOT) -> list[Path]:
    """Write each .po file's .mo beside it; returns the .mo paths."""
    import polib

    written = []
    for po_path in po_paths(root):
        mo_path = po_path.with_suffix(".mo")
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written


def catalogue_problems(po_path: Path) -> list[str]:
    """What keeps a catalogue from being complete: untranslated, fuzzy or obsolete messages."""
    import polib

    catalogue = polib.pofile(str(po_path))
    problems = [f"untranslated: {entry.msgid!r}" for entry in catalogue.untranslated_entries()]
    problems += [f"fuzzy: {entry.msgid!r}" for entry in catalogue.fuzzy_entries()]
    problems += [f"no longer used: {entry.msgid!r}" for entry in catalogue.obsolete_entries()]
    return problems


def main() -> int:
    import django
    from django.core.management import call_command

    sys.path.insert(0, str(ROOT))
    django.setup()
    for locale in LANGUAGES:
        for domain in DOMAINS:
            call_command(*makemessages_args(domain, locale), verbosity=0)
    for mo_path in compile_catalogues():
        print(f"compiled {mo_path.relative_to(ROOT)}")
    problems = [f"{path.name}: {problem}" for path in po_paths() for problem in catalogue_problems(path)]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conductor.settings.base")
    # Extraction reads no secret: the development key is enough (a fresh clone has no var/secret-key).
    os.environ.setdefault("DEBUG", "true")
    sys.exit(main())
