"""The API's interactive docs: Swagger UI from the project's own static files, for staff only."""

import re

import pytest

from tests.factories import make_user

pytestmark = pytest.mark.django_db
SCRIPT_OR_STYLE = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)=["']([^"']+)["']""")


def test_the_docs_are_for_staff_only(client):
    anonymous = client.get("/api/docs")
    assert anonymous.status_code == 302
    assert anonymous["Location"] == "/admin/login/?next=/api/docs"

    client.force_login(make_user())
    assert client.get("/api/docs").status_code == 302

    client.force_login(make_user(is_staff=True))
    assert client.get("/api/docs").status_code == 200


def test_the_schema_stays_open(client):
    assert client.get("/api/openapi.json").status_code == 200


def test_swagger_ui_loads_nothing_from_another_site_and_every_file_is_served_here(client):
    client.force_login(make_user(is_staff=True))
    page = client.get("/api/docs").content.decode()

    assets = SCRIPT_OR_STYLE.findall(page)
    assert "/static/ninja/swagger-ui-bundle.js" in assets
    for asset in assets:
        assert asset.startswith("/static/"), asset  # this site, no CDN
        assert client.get(asset).status_code == 200, asset  # works offline
    assert "cdn." not in page and "https://" not in page
