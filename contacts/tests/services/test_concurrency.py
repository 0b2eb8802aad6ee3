"""Binding under real concurrency: PostgreSQL, real threads, one connection each."""

import contextlib
import random
from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.models import BindEvent, Contact, ShareLink
from contacts.services.binding import admin_bind, share_link_bind
from contacts.services.contacts import admin_transfer
from contacts.services.share_links import share_link_create, share_links_expire
from contacts.tests.factories import ContactFactory, ParentFactory
from core.errors import ApplicationError
from core.tests.concurrency import run_threads
from schools.models import AuditLog
from schools.tests.factories import SchoolFactory, StudentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_forty_parents_binding_at_once_never_exceed_the_limit():
    student = StudentFactory(school=SchoolFactory(contact_limit=5))
    admin = ContactFactory(student=student, role=Contact.Role.ADMIN)
    _, token = share_link_create(parent=admin.parent, user_id=student.user_id)
    parents = [ParentFactory() for _ in range(40)]

    outcomes = run_threads(40, lambda i: share_link_bind(parent=parents[i], token=token).type or "allowed")

    assert sorted(set(outcomes)) == ["allowed", "overload"], outcomes
    # The limit counts the admin and reservations: 1 admin + 4 allowed by the link = 5; 36 refused.
    assert Contact.objects.filter(student=student).count() == 5
    assert outcomes.count("allowed") == 4
    assert BindEvent.objects.filter(student=student, type="overload").count() == 36 == outcomes.count("overload")


def test_forty_parents_racing_for_admin_leave_one_admin():
    student = StudentFactory(school=SchoolFactory(contact_limit=5))
    parents = [ParentFactory() for _ in range(40)]

    results = run_threads(40, lambda i: admin_bind(parent=parents[i], user_id=student.user_id).allowed)

    assert results.count(True) == 1
    assert all(isinstance(r, ApplicationError) and r.code == "admin_exists" for r in results if r is not True)
    assert Contact.objects.filter(student=student).count() == 1
    assert Contact.objects.filter(student=student, role=1).count() == 1


def test_concurrent_admin_transfers_leave_exactly_one_admin(settings):
    settings.WECHAT_SANDBOX = True  # roles change at once (no WeChat list to wait for)
    student = StudentFactory()
    contacts = [ContactFactory(student=student, role=Contact.Role.ADMIN if i == 0 else 0) for i in range(8)]
    openids = [c.parent.openid for c in contacts]
    rng = random.Random(7)
    plan = [(rng.randrange(8), rng.randrange(8)) for _ in range(24)]

    def transfer(i):
        caller, target = plan[i]
        parent = contacts[caller].parent
        for _ in range(5):  # each thread keeps trying, whoever is admin at the moment
            with contextlib.suppress(ApplicationError):
                admin_transfer(parent=parent, user_id=student.user_id, new_admin_openid=openids[target])
        return True

    run_threads(len(plan), transfer)

    assert Contact.objects.filter(student=student, role=1).count() == 1
    assert Contact.objects.filter(student=student).count() == 8
    # The audit trail is one unbroken chain: each transfer starts where the previous one ended.
    holder = openids[0]
    transfers = AuditLog.objects.filter(action="admin_transfer_reported").order_by("id")
    assert transfers.exists()
    for row in transfers:
        assert row.data["from"] == holder
        holder = row.data["to"]
    assert Contact.objects.get(student=student, role=1).parent.openid == holder


def test_overlapping_expiry_sweeps_mark_each_link_once():
    student = StudentFactory()
    admin = ContactFactory(student=student, role=Contact.Role.ADMIN)
    for _ in range(50):
        share_link_create(parent=admin.parent, user_id=student.user_id)
    ShareLink.objects.update(
        created_at=timezone.now() - timedelta(days=3), expires_at=timezone.now() - timedelta(days=1)
    )

    counts = run_threads(4, lambda i: share_links_expire())

    assert sum(counts) == 50
    assert ShareLink.objects.filter(state="expired").count() == 50
