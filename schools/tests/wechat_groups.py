"""Helpers of the device group tests: WeChat's side of a group, in the fake WeChat (REFERENCE.md §5)."""

import json

from core.tests.fake_wechat import FakeWeChat
from core.wechat.client import WeChatClient
from core.wechat.errcodes import envelope

GROUP_PATHS = ("createid", "adddevice", "removedevice", "getinfo")


def wechat_group(fake: FakeWeChat, group_id: str, name: str = "教学楼", model_id="mdl_campusphone_v2", devices=()):
    """A group WeChat has: ``devices`` are ``Device`` rows or ``(sn, model_id)``."""
    listed = [d if isinstance(d, tuple) else (d.sn, d.model_id) for d in devices]
    fake.groups[group_id] = {"group_name": name, "model_id": model_id, "devices": listed}


def members(fake: FakeWeChat, group_id: str) -> set[str]:
    """The sns WeChat lists in the group."""
    return {sn for sn, _model_id in fake.groups[group_id]["devices"]}


def group_calls(fake: FakeWeChat) -> list[str]:
    """The group APIs called so far, in order: ``createid``, ``adddevice``, ``removedevice``, ``getinfo``."""
    prefix = "/wxa/business/group/"
    return [path.removeprefix(prefix) for path in fake.paths() if path.startswith(prefix)]


def wechat_refuses(fake: FakeWeChat, errcode: int) -> None:
    """From now on every WeChat API answers ``errcode`` (the portal's access_token is fetched first).

    For refusals the fake's rules never give, such as 9800012 for a name the portal accepts.
    """
    WeChatClient.from_settings().access_token()
    fake.raw_answer = (200, json.dumps(envelope(errcode)).encode())
