"""English and Brazilian Portuguese (docs/dashboard.md, "Languages"): the catalogues are complete and
compiled, the language follows the browser and the switch, and the scripts get their catalogue."""

import gettext
import os
import shutil
import subprocess
import sys

import polib
import pytest
from django.contrib.auth import get_user_model

from devserver.catalogues import ROOT, catalogue_problems, makemessages_args, po_paths

PORTUGUESE = "pt-BR,pt;q=0.9,en;q=0.5"
COPY_IGNORED = shutil.ignore_patterns(".git", ".venv", "var", "node_modules", "__pycache__", "*.png", "*.sqlite3")


def test_every_catalogue_is_complete_none_fuzzy_or_empty():
    for path in po_paths():
        assert catalogue_problems(path) == [], path.name


def test_the_committed_mo_files_are_compiled_from_the_po_files():
    for path in po_paths():
        with path.with_suffix(".mo").open("rb") as compiled:
            catalog = gettext.GNUTranslations(compiled)._catalog
        for entry in polib.pofile(str(path)).translated_entries():
            # A message with a context is filed under "context\x04message".
            msgid = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
            if entry.msgid_plural:
                assert catalog[(msgid, 0)] == entry.msgstr_plural[0], entry.msgid
                assert catalog[(msgid, 1)] == entry.msgstr_plural[1], entry.msgid
            else:
                assert catalog[msgid] == entry.msgstr, (path.name, entry.msgid)


def test_no_message_of_the_code_is_missing_from_the_portuguese_catalogue(tmp_path):
    """makemessages (GNU gettext's xgettext and msgmerge) on a copy of the sources: nothing new to translate."""
    copy = tmp_path / "src"
    shutil.copytree(ROOT, copy, ignore=COPY_IGNORED)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "conductor.settings.base",
        "CONDUCTOR_VAR_DIR": str(tmp_path / "var"),
    }
    for path in po_paths(copy):
        domain, locale = path.stem, path.parent.parent.name
        subprocess.run(
            [sys.executable, "manage.py", *makemessages_args(domain, locale)],
            cwd=copy,
            env=env,
            check=True,
            timeout=120,
        )
        assert catalogue_problems(path) == [], f"run `make messages` and translate: {path.name}"


@pytest.fixture
def viewer(db):
    return get_user_model().objects.create_user("bob", password="pw")


def test_the_browser_language_picks_portuguese(client, viewer):
    client.force_login(viewer)
    html = client.get("/", HTTP_ACCEPT_LANGUAGE=PORTUGUESE).content.decode()
    assert '<html lang="pt-br">' in html
    assert "Conselheiros" in html
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="en">' in english
    assert "Councilors" in english


def test_the_switch_sets_a_cookie_that_sticks(client, viewer, settings):
    client.force_login(viewer)
    response = client.post("/i18n/setlang/", {"language": "pt-br", "next": "/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "pt-br"
    # The browser still asks for English: the choice wins.
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert '<html lang="pt-br">' in html
    assert 'action="/i18n/setlang/"' in html


def test_the_scripts_catalogue_is_portuguese_for_a_portuguese_browser(client):
    response = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE=PORTUGUESE)
    assert response.status_code == 200
    body = response.content.decode()
    assert '"%(name)s - started": "%(name)s - Iniciando an\\u00e1lise..."' in body
    assert '"Success": "Sucesso"' in body
    assert '"Warning": "Aviso"' in body


def test_the_admin_speaks_portuguese_too(admin_client):
    html = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE=PORTUGUESE).content.decode()
    assert "Administração" in html or "administração" in html
