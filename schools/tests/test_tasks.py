"""Celery tasks of the schools app, run in the test's process (``calls a service``; the real worker
is exercised in ``portal/tests/test_celery.py``)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from schools.models import ApiAccessToken
from schools.services.api_clients import api_access_token_issue, api_client_create
from schools.tasks import purge_expired_api_tokens, reconcile_device_groups
from schools.tests.factories import DeviceFactory, DeviceGroupFactory, SchoolFactory
from schools.tests.wechat_groups import group_calls, wechat_group

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


def test_beat_reconciles_device_groups_daily_at_a_quiet_hour():
    [entry] = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == reconcile_device_groups.name]
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({3}, {30})


def test_the_daily_reconcile_goes_past_a_group_wechat_refuses(fake_wechat):
    school = SchoolFactory()
    DeviceGroupFactory(school=school, group_id="grp_deleted_at_wechat")  # 9800013, read first
    group = DeviceGroupFactory(school=school, group_id="grp_fine")
    device = DeviceFactory(school=school)
    wechat_group(fake_wechat, "grp_fine", devices=[device])

    assert reconcile_device_groups.apply().get() == 1

    device.refresh_from_db()
    assert device.group == group
    assert group_calls(fake_wechat) == ["getinfo", "getinfo"]
