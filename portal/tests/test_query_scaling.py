"""Queries per request do not grow with the data (issue 11 §1): every endpoint of the device API and
the mini-program, sent as an actor it answers, in the authorization matrix's world grown by ``n``
of everything a request could walk, at two sizes.

Grown by ``n``: students of the school whose admin contact is the world's admin (its list, pending
actions), hardware phones of the school the admin authorized (device authorizations, sn tickets),
calls of the world's student (call history, daily minutes), events of the school (the events
cursor). The sizes are ``QUERY_SCALING_SIZES`` (default ``10,100``; bench/queries.py runs
``10,1000`` and writes the table to ``QUERY_SCALING_REPORT``).
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache, caches
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calls.models import AuthorizationSource, AuthorizationStatus, DeviceAuthorization
from calls.tests.factories import make_call
from contacts.models import Contact
from portal.tests.test_api_authorization import LOGIN_CODE, NEWCOMER, RULES, send, world  # noqa: F401 (fixture)
from schools.models import Device, Student
from schools.services.events import event_emit, outbox_positions_assign

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

SIZES = [int(n) for n in os.environ.get("QUERY_SCALING_SIZES", "10,100").split(",")]
ANSWERING = ("admin_contact", "school_client", "anonymous")  # the first of these the endpoint answers


def grow(w, n: int) -> None:
    """``n`` more of everything a request could walk (see the module)."""
    students = Student.objects.bulk_create(
        [Student(school=w.school, user_id=f"oScaleStudent{n:05d}{i:05d}", name=f"学生{i}") for i in range(n)]
    )
    Contact.objects.bulk_create(
        [
            Contact(student=s, parent=w.admin, role=Contact.Role.ADMIN, bound_via="admin", state="confirmed")
            for s in students
        ]
    )
    devices = Device.objects.bulk_create(
        [Device(school=w.school, sn=f"SCALE{n:05d}{i:05d}", model_id="scale", device_name=f"电话{i}") for i in range(n)]
    )
    DeviceAuthorization.objects.bulk_create(
        [
            DeviceAuthorization(
                parent=w.admin, device=d, status=AuthorizationStatus.AUTHORIZED, source=AuthorizationSource.REQUEST
            )
            for d in devices
        ]
    )
    started = timezone.now() - timedelta(days=3)
    for i in range(n):
        make_call(student=w.student, device=w.device, openid=w.admin.openid, started_at=started - timedelta(minutes=i))
        event_emit(school_id=w.school.pk, type="contact.changed", data={"user_id": w.student.user_id})
    outbox_positions_assign()


def answering(route: str, method: str) -> str | None:
    """The actor the endpoint answers (the catch-all ``^api/`` answers no one)."""
    outcomes = RULES[(route, method)].outcomes
    return next((a for a in ANSWERING if a in outcomes and outcomes[a].status < 300), None)


ENDPOINTS = [(route, method) for route, method in sorted(RULES) if answering(route, method)]


def count(w, route: str, method: str, fake_wechat) -> tuple[str, int, int]:
    """``(actor, status, queries)`` of one request, rolled back after it."""
    rule = RULES[(route, method)]
    actor = answering(route, method)
    if rule.wechat:
        fake_wechat.sessions[LOGIN_CODE] = {"openid": NEWCOMER, "session_key": "k"}
    cache.clear()  # throttles: not the subject; every token lookup as cold as the first
    caches["local"].clear()
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            response = send(w, actor, method, rule.request(w))
        transaction.set_rollback(True)
    return actor, response.status_code, len(queries.captured_queries)


def test_queries_per_request_do_not_grow_with_the_data(world, fake_wechat):  # noqa: F811
    table = {}
    for n in SIZES:
        with transaction.atomic():
            grow(world, n)
            for route, method in ENDPOINTS:
                actor, status, queries = count(world, route, method, fake_wechat)
                assert status < 300, (route, method, actor, status)
                table.setdefault((route, method, actor), []).append(queries)
            transaction.set_rollback(True)

    report = os.environ.get("QUERY_SCALING_REPORT")  # bench/queries.py's table
    if report:
        lines = [
            f"### Queries per request, the world grown by {' and by '.join(map(str, SIZES))}",
            "",
            "| endpoint | as | " + " | ".join(f"queries at +{n}" for n in SIZES) + " |",
            "|---|---|" + "---|" * len(SIZES),
        ]
        lines += [f"| {m} /{r} | {a} | " + " | ".join(map(str, c)) + " |" for (r, m, a), c in table.items()]
        Path(report).write_text("\n".join(lines) + "\n")
    assert len(table) >= 25  # every endpoint of both APIs
    growing = {key: counts for key, counts in table.items() if len(set(counts)) > 1}
    assert not growing, growing
