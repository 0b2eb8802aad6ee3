"""Device authorization history as sentences (``calls.history``): every status has its own."""

import pytest
from django.utils import translation

from calls.history import AUTHORIZATION_SENTENCES, REMOVED, authorization_sentence
from calls.models import AuthorizationStatus, DeviceAuthorizationHistory
from contacts.tests.factories import ParentFactory
from schools.tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db


def test_every_status_has_its_own_translated_sentence():
    assert set(AUTHORIZATION_SENTENCES.templates) == {*map(str, AuthorizationStatus.values), REMOVED}
    parent, device = ParentFactory(nickname="王妈妈"), DeviceFactory(device_name="一楼东侧")
    with translation.override("zh-hans"):
        sentences = [
            authorization_sentence(DeviceAuthorizationHistory(parent=parent, device=device, status=s, source="request"))
            for s in [1, 0, None, 7]
        ]
    assert sentences[0] == "王妈妈 授权 电话 一楼东侧 呼叫(wx.requestDeviceVoIP)"
    assert sentences[2] == "王妈妈 对 电话 一楼东侧 的授权记录已删除(wx.requestDeviceVoIP)"
    assert sentences[3] == "王妈妈,电话 一楼东侧:7(wx.requestDeviceVoIP)"
    assert len(set(sentences)) == 4
