"""The portal's WeChat client (``core.wechat.client``) against a real local fake of WeChat.

The portal's own access_token is refreshed by one caller at a time; the others wait for it,
and give up after ``WECHAT_TIMEOUT`` seconds if the refresh never finishes.
"""

import threading
from types import SimpleNamespace

import pytest
from django.core.cache import cache

from core.wechat import client as client_module
from core.wechat.client import LOCK_POLL_INTERVAL, WeChatClient, WeChatUnavailable

TOKEN = "/cgi-bin/token"
TOKEN_KEY = "wechat:access_token:wx_test_appid"


def test_concurrent_callers_share_one_token_refresh(fake_wechat):
    fake_wechat.token_delay = 0.5
    callers = 8
    barrier = threading.Barrier(callers)
    tokens, errors = [], []

    def call():
        barrier.wait()
        try:
            tokens.append(WeChatClient.from_settings().access_token())
        except Exception as exc:  # noqa: BLE001 — reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert errors == []
    assert tokens == ["fake-token-1"] * callers
    assert fake_wechat.paths().count(TOKEN) == 1
    assert fake_wechat.tokens_issued == 1


def test_caller_waiting_for_another_refresh_gives_up_after_the_timeout(fake_wechat, settings, monkeypatch):
    settings.WECHAT_TIMEOUT = 0.3
    cache.add(f"{TOKEN_KEY}:lock", "another-worker", timeout=30)  # a refresh that never finishes
    clock = SimpleNamespace(now=1000.0, sleeps=[])

    def sleep(seconds):
        clock.sleeps.append(seconds)
        clock.now += seconds

    monkeypatch.setattr(client_module, "time", SimpleNamespace(monotonic=lambda: clock.now, sleep=sleep))

    with pytest.raises(WeChatUnavailable):
        WeChatClient.from_settings().access_token()

    # It polled the cache every LOCK_POLL_INTERVAL until the timeout had passed, then gave up
    # at once (within one more poll), without asking WeChat.
    assert set(clock.sleeps) == {LOCK_POLL_INTERVAL}
    assert 0.3 <= sum(clock.sleeps) < 0.3 + LOCK_POLL_INTERVAL * 1.5
    assert fake_wechat.requests == []
