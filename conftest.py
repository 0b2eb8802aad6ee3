"""Fixtures shared by every app's tests, and the rules of the suite.

- Tests marked ``postgres`` need PostgreSQL; on SQLite they are skipped with that reason.
- With ``PORTAL_FORBID_SKIPS=1`` (CI) a run with any skipped test fails.
- Celery tasks queued by the code under test run eagerly, in the test's thread (a real worker
  runs in ``portal/tests/test_celery.py``); WeChat is a closed local port unless the test starts
  the fake WeChat (``fake_wechat``), so no test ever reaches the real WeChat
  (``portal.settings.test``); webhooks go to ``webhook_receiver``.
"""

import os

import pytest
from django.core.cache import cache, caches
from rest_framework.test import APIClient

from contacts.services.parents import parent_login
from core.prepared import forget_compiled
from core.tests.fake_wechat import FakeWeChat
from schools.services.api_clients import api_client_create
from schools.tests.factories import SchoolFactory
from schools.tests.vendor import get_token
from schools.tests.webhook_receiver import WebhookReceiver


def pytest_collection_modifyitems(config, items):
    from django.db import connection

    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL or run a server on localhost:5432")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("PORTAL_FORBID_SKIPS") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        reporter.write_line(f"PORTAL_FORBID_SKIPS: {skipped} test(s) skipped; every test must run in CI.", red=True)
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    caches["local"].clear()
    forget_compiled()  # a test may change a QuerySet method (core.prepared)
    yield


@pytest.fixture
def api():
    """An unauthenticated DRF test client."""
    return APIClient()


@pytest.fixture
def fake_wechat(settings):
    """A local fake WeChat HTTP server; settings point the portal's WeChat client at it."""
    server = FakeWeChat().start()
    settings.WECHAT_API_BASE_URL = server.base_url
    yield server
    server.stop()


@pytest.fixture
def webhook_receiver():
    """A school's webhook receiver (a local HTTP server that verifies signatures and dedupes by event id)."""
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def parent_api(fake_wechat):
    """``parent_api(openid)`` → a DRF client logged in as that parent through the fake WeChat login."""

    def make(openid: str) -> APIClient:
        code = f"code-{openid}"
        fake_wechat.sessions[code] = {"openid": openid, "session_key": "k"}
        result = parent_login(code=code)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {result.token}")
        client.parent = result.parent
        return client

    return make


@pytest.fixture
def school():
    """A school (``SchoolFactory``)."""
    return SchoolFactory()


@pytest.fixture
def vendor(school):
    """``(client, secret)``: a device vendor's API client of ``school`` and its secret."""
    return api_client_create(school_ids=[school.pk], name="Campus phones Ltd")


@pytest.fixture
def access_token(api, vendor):
    """An ``access_token`` of ``vendor``, from ``GET /cgi-bin/token``."""
    client, secret = vendor
    return get_token(api, client.appid, secret).json()["access_token"]
