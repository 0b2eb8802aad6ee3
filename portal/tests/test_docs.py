"""OpenAPI schema and Swagger UI, with assets served by the portal itself (no CDN)."""

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_schema_lists_every_endpoint(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/v1/auth/login",
        "/api/v1/me/voip-scope",
        "/api/v1/students/{user_id}/admin",
        "/api/v1/students/{user_id}/share-links",
        "/api/v1/share-links/{token}/bind",
        "/api/v1/scenes/{scene}",
        "/api/v1/students/{user_id}/contacts",
        "/api/v1/students/{user_id}/contacts/delete",
        "/api/v1/students/{user_id}/admin/transfer",
        "/api/v1/students/{user_id}/contacts/me",
        "/api/v1/me/students",
        "/cgi-bin/token",
        "/wxa/business/getvoipcontactlist",
    ]:
        assert path in paths, path


def test_schema_generates_without_warnings():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


@pytest.mark.django_db
def test_swagger_ui_assets_are_local(client):
    page = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn" not in page.lower()
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_unknown_api_paths_answer_json_404(client):
    response = client.post("/api/v1/share-links//bind")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
