"""Celery tasks of the schools app, run in the test's process (``calls a service``; the real worker
is exercised in ``portal/tests/test_celery.py``)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from schools.models import ApiAccessToken
from schools.services.api_clients import api_access_token_issue, api_client_create
from schools.tasks import purge_expired_api_tokens
from schools.tests.factories import SchoolFactory

pytestmark = pytest.mark.django_db


def test_purge_keeps_tokens_a_day_after_expiry_so_they_still_answer_42001():
    client, _ = api_client_create(school_ids=[SchoolFactory().pk], name="v")
    tokens = {age: api_access_token_issue(client=client)[0] for age in ("fresh", "just expired", "old")}
    now = timezone.now()
    ApiAccessToken.objects.filter(ApiAccessToken.token_q(tokens["just expired"])).update(
        expires_at=now - timedelta(hours=23)
    )
    ApiAccessToken.objects.filter(ApiAccessToken.token_q(tokens["old"])).update(expires_at=now - timedelta(hours=25))

    assert purge_expired_api_tokens.apply().get() == 1
    assert not ApiAccessToken.objects.filter(ApiAccessToken.token_q(tokens["old"])).exists()
    assert ApiAccessToken.objects.count() == 2
