"""Scale-out (issue 11 §4): two web processes and two workers on one database and one broker.

The web tier keeps no state of its own: the contact limit, the one-admin rule and the abuse limits
hold across processes because they live in PostgreSQL (row locks, constraints) and Redis (the
shared cache), not in a process. Two gunicorn servers (production settings, two sync workers each:
four processes answering) and two Celery workers run on the private stack; forty parents race
through both servers at once.
"""

import json
from collections import Counter
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from contacts.models import BindEvent, Contact, ParentToken
from contacts.services.share_links import share_link_create
from contacts.tests.factories import ContactFactory, ParentFactory
from core.tests.concurrency import run_threads
from portal.tests.faults.world import deliveries, school_event_ids, sweep_until_delivered, world
from schools.models import School, Student, WebhookDelivery

pytestmark = pytest.mark.fault

PARENTS = 40
CONTACT_LIMIT = 5


def _parents(n: int) -> list[str]:
    """``n`` parents (scope.voip granted), each logged in: their bearer tokens."""
    now = timezone.now()
    tokens = []
    for _ in range(n):
        _row, token = ParentToken.issue(parent=ParentFactory(), created_at=now, expires_at=now + timedelta(days=1))
        tokens.append(token)
    return tokens


def _post(url: str, token: str, body: dict) -> requests.Response:
    return requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_forty_parents_racing_through_two_web_processes_keep_the_limit(portal, receiver):
    w = world(receiver, families=2)
    School.objects.filter(pk=w.school_id).update(contact_limit=CONTACT_LIMIT)
    linked, contested = (Student.objects.get(user_id=f.user_id) for f in w.families)
    admin = ContactFactory(student=linked, role=Contact.Role.ADMIN)
    _link, share_token = share_link_create(parent=admin.parent, user_id=linked.user_id)
    servers = [portal.server(gunicorn=True), portal.server(gunicorn=True)]
    workers = [portal.worker("a"), portal.worker("b")]
    tokens = _parents(PARENTS)

    # Forty parents open the admin's share link at once, half through each server.
    binds = run_threads(
        PARENTS,
        lambda i: _post(f"{servers[i % 2].base_url}/api/v1/share-links/{share_token}/bind", tokens[i], {}),
    )
    statuses = Counter(r.status_code for r in binds)
    # 1 admin + 4 allowed = the limit of 5; every other parent told "overload", none failed.
    assert statuses == {200: CONTACT_LIMIT - 1, 409: PARENTS - CONTACT_LIMIT + 1}, statuses
    assert {r.json()["type"] for r in binds if r.status_code == 409} == {"overload"}
    # Both servers decided: the race really crossed processes.
    served_by = Counter((i % 2, r.status_code) for i, r in enumerate(binds))
    assert served_by[(0, 200)] + served_by[(0, 409)] == served_by[(1, 200)] + served_by[(1, 409)] == PARENTS // 2
    assert Contact.objects.filter(student=linked).count() == CONTACT_LIMIT
    assert BindEvent.objects.filter(student=linked, type=BindEvent.Type.OVERLOAD).count() == PARENTS - CONTACT_LIMIT + 1

    # The same forty ask to become the admin of a student without one: exactly one is.
    admin_path = f"/api/v1/students/{contested.user_id}/admin"
    mother = {"relation": "妈妈"}
    admins = run_threads(PARENTS, lambda i: _post(servers[i % 2].base_url + admin_path, tokens[i], mother))
    assert Counter(r.status_code for r in admins) == {200: 1, 409: PARENTS - 1}
    assert {r.json()["code"] for r in admins if r.status_code == 409} == {"admin_exists"}
    assert Contact.objects.filter(student=contested).count() == 1

    # Every event, queued by either server, is delivered by the two workers: none lost, each once.
    assert sweep_until_delivered(w), list(deliveries(w).exclude(state=WebhookDelivery.State.DELIVERED).values())
    assert set(receiver.events) == school_event_ids(w)
    assert len(receiver.event_ids()) == len(set(receiver.event_ids()))
    assert all(s.running() for s in servers) and all(wk.running() for wk in workers)

    # Each answer names its request id, and the delivery tasks a request sent log under the same id
    # (JSON lines, production settings): a bind can be followed from the web into the worker.
    bind_ids = {r.headers["X-Request-ID"] for r in binds if r.status_code == 200}
    assert len(bind_ids) == CONTACT_LIMIT - 1
    task_lines = [
        line
        for worker in workers
        for line in _json_lines(worker.log())
        if line.get("task") == "schools.tasks.deliver_webhook" or line["event"] == "task_started"
    ]
    assert bind_ids <= {line.get("request_id") for line in task_lines}, task_lines[:5]


def _json_lines(log: str) -> list[dict]:
    """The JSON objects among a process's log lines (production logs one per line)."""
    lines = []
    for text in log.splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    return lines


def test_a_parents_abuse_limit_is_shared_by_every_web_process(portal):
    servers = [portal.server(gunicorn=True, BIND_THROTTLE_RATE="6/minute") for _ in range(2)]
    (token,) = _parents(1)
    url = "/api/v1/share-links/{}/bind".format("x" * 43)  # an unknown link: 404 until throttled

    answers = [_post(servers[i % 2].base_url + url, token, {}).status_code for i in range(8)]

    # Six attempts in all, alternating between the servers (each with two processes), then 429:
    # the count lives in Redis, not in a process.
    assert answers == [404] * 6 + [429] * 2, answers
