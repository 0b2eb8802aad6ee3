"""Chromium applies the content security policy to the admin and Swagger UI without one violation.

Every page listens for ``securitypolicyviolation`` before any of its scripts run, and the console
is read for "Refused to …" messages: a blocked script, style or image fails the test, and each
page is checked for working (charts drawn, operations listed, the export toggle unchecking).
"""

import re

import pytest
from django.contrib.auth.models import User

from contacts.tests.factories import ContactFactory
from schools.tests.factories import DeviceFactory, StudentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def watched_page(page):
    """The ``page`` with CSP violations recorded; the test fails on any."""
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(RECORD_VIOLATIONS)

    def violations() -> list[str]:
        found = page.evaluate("window.__cspViolations || []")
        return found + [text for text in console if "Content Security Policy" in text]

    page.violations = violations
    yield page
    assert page.violations() == []


def login_as_superuser(page):
    User.objects.create_superuser("root", "root@example.com", "correct-horse-battery")
    page.goto(f"{page.base_url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))


def visit(page, path):
    response = page.goto(f"{page.base_url}{path}")
    assert response.status == 200, path
    assert "Content-Security-Policy" in response.headers or "content-security-policy" in response.headers
    page.wait_for_load_state("load")
    assert page.violations() == [], path


def test_the_admin_works_under_the_policy(watched_page, shot):
    page = watched_page
    student = StudentFactory(class_name="三年级2班")
    ContactFactory(student=student, role=1)
    DeviceFactory(school=student.school)

    login_as_superuser(page)
    assert page.violations() == []
    # The dashboard: its inline <style> (nonce) applies and Chart.js draws on the canvases.
    page.wait_for_function("document.querySelector('#dashboard-bindings-chart').width > 0")
    assert page.evaluate("getComputedStyle(document.querySelector('#portal-dashboard')).marginBottom") == "30px"
    shot("dashboard")

    for path in (
        "/admin/schools/student/",
        f"/admin/schools/student/{student.pk}/change/",
        "/admin/calls/callusage/",
        "/admin/calls/callfailure/",
        "/admin/schools/student/import/",
    ):
        visit(page, path)

    # django-import-export's "select all" toggle: an inline handler allowed by its hash.
    visit(page, "/admin/schools/student/export/")
    toggle = page.locator("input.select-toggle")
    if toggle.count():
        assert page.locator(".selectable-field-export-row input[type=checkbox]:checked").count() > 0
        toggle.first.uncheck()
        assert page.locator(".selectable-field-export-row input[type=checkbox]:checked").count() == 0
    shot("export")


def test_swagger_ui_works_under_the_policy(watched_page, shot):
    page = watched_page

    visit(page, "/api/docs/")
    page.wait_for_selector(".opblock", timeout=20_000)  # the schema was fetched and rendered
    assert page.locator(".opblock").count() > 10
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"  # the inline <style> (nonce)
    shot("swagger")
