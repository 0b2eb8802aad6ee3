"""The content security policy (django-csp, CONTENT_SECURITY_POLICY in portal.settings.base; issue 9 §5).

Every page carries the header; scripts only from the portal itself or with the request's nonce
(no 'unsafe-inline', no 'unsafe-eval'); every inline <script>/<style> the admin, the letters and
Swagger UI render carries that nonce, and no page has an inline event handler except
django-import-export's one, allowed by its hash. The browser tests (portal/tests/browser/test_csp.py)
check that Chromium applies it without a violation.
"""

import base64
import hashlib
import re

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from contacts.tests.factories import ContactFactory
from contacts.tests.test_mini_program_letters import print_letters, print_posters, staff_of
from schools.tests.factories import DeviceFactory, SchoolFactory, StudentFactory

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[a-z][^>]*\s(on[a-z]+)=\"([^\"]*)\"", re.IGNORECASE)


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = (part.strip().split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


def assert_inline_blocks_carry_the_nonce(response):
    csp = policy(response)
    html = response.content.decode()
    nonces = [value for value in csp["script-src"] if value.startswith("'nonce-")]
    tags = INLINE_SCRIPT.findall(html) + INLINE_STYLE.findall(html)
    if not tags:
        return
    assert len(nonces) == 1, csp["script-src"]
    nonce = nonces[0][len("'nonce-") : -1]
    assert f"'nonce-{nonce}'" in csp["style-src"]
    for tag in tags:
        assert f'nonce="{nonce}"' in tag, tag
    assert not EVENT_HANDLER.findall(html), EVENT_HANDLER.findall(html)


@pytest.fixture
def superuser_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_the_policy_allows_no_inline_or_evaluated_script_and_nothing_from_elsewhere(client):
    csp = policy(client.get("/admin/login/"))

    assert csp["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert "'unsafe-inline'" not in csp["style-src"]
    assert set(csp["img-src"]) == {"'self'", "data:"}  # the letters' mini-program codes are data: URLs
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"] and csp["base-uri"] == ["'none'"]
    for values in csp.values():
        assert not any(
            v.startswith(("http:", "https:", "*")) or "." in v.strip("'") for v in values if "sha256" not in v
        )


def test_admin_pages_carry_the_policy_and_nonces(superuser_client, client):
    student = StudentFactory()
    ContactFactory(student=student, role=1)
    DeviceFactory(school=student.school)
    urls = [
        reverse("admin:index"),  # the dashboard: an inline <style>, Chart.js and dashboard.js
        reverse("admin:schools_student_changelist"),
        reverse("admin:schools_student_change", args=[student.pk]),
        reverse("admin:calls_callusage_changelist"),
        reverse("admin:calls_callfailure_changelist"),
        reverse("admin:schools_student_import"),
    ]
    for url in urls:
        response = superuser_client.get(url)
        assert response.status_code == 200, url
        assert "Content-Security-Policy" in response, url
        assert_inline_blocks_carry_the_nonce(response)
    assert "nonce=" in superuser_client.get(reverse("admin:index")).content.decode()


def test_swagger_ui_carries_the_policy_and_its_inline_blocks_the_nonce(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert INLINE_SCRIPT.search(html) and INLINE_STYLE.search(html)  # drf-spectacular's, with the nonce
    assert_inline_blocks_carry_the_nonce(response)
    assert client.get("/api/schema/")["Content-Security-Policy"]


def test_the_export_forms_one_inline_handler_is_allowed_by_its_hash(superuser_client):
    StudentFactory()
    response = superuser_client.get(reverse("admin:schools_student_export"))

    assert response.status_code == 200
    handlers = {code for _name, code in EVENT_HANDLER.findall(response.content.decode())}
    assert handlers == {"onSelectToggleChange(event)"}  # django-import-export's "select all"
    for code in handlers:
        digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy(response)["script-src"]
    assert "'unsafe-hashes'" in policy(response)["script-src"]


@pytest.fixture
def sandbox_teacher(client, settings):
    settings.WECHAT_SANDBOX = True  # mini-program codes drawn locally: no WeChat needed
    school = SchoolFactory(require_claim_code=True)
    students = [StudentFactory(school=school, class_name="三年级2班")]
    client.force_login(staff_of(school, "teacher-csp"))
    return client, students


def test_letters_and_posters_have_nonced_styles_and_no_inline_handlers(sandbox_teacher):
    client, students = sandbox_teacher

    for response in (print_letters(client, students, "html"), print_posters(client, students)):
        assert response.status_code == 200
        html = response.content.decode()
        assert "data-print" in html and "portal/print.js" in html  # the print button, without onclick
        assert 'src="data:image/png;base64,' in html
        assert_inline_blocks_carry_the_nonce(response)
