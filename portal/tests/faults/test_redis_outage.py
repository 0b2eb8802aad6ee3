"""Redis stops (issue 10 §3): it is the portal's cache (abuse limits, claim-code attempts, WeChat's
token) and Celery's broker.

While it is down, binding and the device API keep answering at their usual speed: the cache
answers from each process's memory (``core.cache.ResilientRedisCache``), and a binding whose event
cannot be queued still succeeds (the event waits in the outbox). When Redis is back, with nothing
of what it held (no persistence, as a restart loses it), the sweeper queues the waiting
deliveries and every event reaches the receiver: none lost, each once after dedup.
"""

import time

import pytest
import requests

from contacts.models import Contact
from portal.tests.faults.world import (
    admin_bind,
    deliveries,
    school_event_ids,
    sweep_until_delivered,
    vendor_token,
    world,
)
from schools.models import WebhookDelivery

pytestmark = pytest.mark.fault

SLOW = 3.0  # seconds: no request may take longer while Redis is down


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_binding_and_the_device_api_answer_while_redis_is_down_and_events_follow(portal, receiver):
    w = world(receiver, families=12)
    worker = portal.worker("deliver")
    server = portal.server()
    before, during, after = w.families[:4], w.families[4:8], w.families[8:]

    for family in before:
        assert admin_bind(server.base_url, family).json()["allowed"]
    assert sweep_until_delivered(w, 30)  # the pipeline works: delivered by the worker
    served = before[0]  # WeChat has confirmed this one (as the reconciliation would record): devices get it
    Contact.objects.filter(parent__openid=served.openid).update(state=Contact.State.CONFIRMED)

    portal.redis.stop()  # the cache and the broker, with every key and queued message
    try:
        answers = []
        for family in during:
            response, seconds = timed(lambda family=family: admin_bind(server.base_url, family))
            answers.append(("bind", response.status_code, seconds))
            assert response.status_code == 200 and response.json()["allowed"], response.text
        response, seconds = timed(lambda: vendor_token(server.base_url, w))
        answers.append(("token", response.status_code, seconds))
        assert response.status_code == 200 and response.json()["access_token"], response.text
        access_token = response.json()["access_token"]
        response, seconds = timed(
            lambda: requests.post(
                f"{server.base_url}/wxa/business/getvoipcontactlist",
                params={"access_token": access_token},
                json={"user_id": served.user_id},
                timeout=15,
            )
        )
        answers.append(("contact list", response.status_code, seconds))
        assert response.status_code == 200 and response.json()["errcode"] == 0, response.text
        assert [c["open_id"] for c in response.json()["contact_list"]] == [served.openid]
        response, seconds = timed(
            lambda: requests.get(
                f"{server.base_url}/api/v1/device/students/{served.user_id}/call-plan",
                params={"sn": w.sn, "model_id": w.model_id, "access_token": access_token},
                timeout=15,
            )
        )
        answers.append(("call plan", response.status_code, seconds))
        assert response.status_code == 200, response.text  # throttled per device in the cache
        print(f"\nwhile Redis is down: {[(k, s, round(t, 2)) for k, s, t in answers]}")  # noqa: T201
        assert max(t for _k, _s, t in answers) < SLOW

        # The bindings' events wait in the outbox: nothing could be queued, nothing was sent.
        waiting = deliveries(w).filter(state=WebhookDelivery.State.PENDING)
        assert waiting.count() == len(during)
        assert "cache" in server.log() and "unreachable" in server.log()  # the fallback, logged once
    finally:
        portal.redis.start()

    for family in after:
        assert admin_bind(server.base_url, family).json()["allowed"]
    assert worker.running() and server.running()
    assert sweep_until_delivered(w, 90), list(deliveries(w).exclude(state=WebhookDelivery.State.DELIVERED).values())
    received = receiver.event_ids()
    assert set(receiver.events) == school_event_ids(w)  # none lost
    assert len(set(received)) == len(receiver.events) == len(w.families)  # each once after dedup
    print(  # noqa: T201
        f"events: {len(receiver.events)}, deliveries received: {len(received)} "
        f"(duplicates removed by event id: {len(received) - len(set(received))})"
    )
