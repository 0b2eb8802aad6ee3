"""The contacts app's query rules, each written once (``contacts.querysets``)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.models import ClaimCode, Contact, Parent, ShareLink
from contacts.tests.factories import ContactFactory
from schools.tenancy import scoped
from schools.tests.factories import SchoolFactory, StudentFactory

pytestmark = pytest.mark.django_db


def link(student, issuer, *, state="active", expires_in_hours=1, tag):
    now = timezone.now()
    return ShareLink.objects.create(
        token_hash=f"{tag:064x}",
        student=student,
        issued_by=issuer,
        state=state,
        created_at=now - timedelta(days=2),
        expires_at=now + timedelta(hours=expires_in_hours),
    )


def test_share_link_states():
    admin = ContactFactory(role=Contact.Role.ADMIN)
    usable = link(admin.student, admin.parent, tag=1)
    unswept = link(admin.student, admin.parent, expires_in_hours=-1, tag=2)
    swept = link(admin.student, admin.parent, state="expired", expires_in_hours=-1, tag=3)
    revoked = link(admin.student, admin.parent, state="revoked", tag=4)

    assert list(ShareLink.objects.usable()) == [usable]
    assert set(ShareLink.objects.expired()) == {unswept, swept}
    assert list(ShareLink.objects.past_expiry()) == [unswept]  # what the sweep changes
    assert set(ShareLink.objects.active()) == {usable, unswept}  # what revocation changes
    assert list(ShareLink.objects.filter(ShareLink.objects.revoked_q())) == [revoked]


def test_claim_code_states():
    now = timezone.now()
    students = StudentFactory.create_batch(4)

    def code(student, **fields):
        return ClaimCode.objects.create(
            student=student, code_hash="x" * 64, created_at=now - timedelta(days=1), **fields
        )

    usable = code(students[0], expires_at=now + timedelta(days=1))
    expired = code(students[1], expires_at=now - timedelta(hours=1))
    code(students[2], expires_at=now + timedelta(days=1), used_at=now)
    code(students[3], expires_at=now + timedelta(days=1), revoked_at=now)

    assert set(ClaimCode.objects.live()) == {usable, expired}
    assert list(ClaimCode.objects.usable()) == [usable]
    assert list(ClaimCode.objects.expired()) == [expired]


def test_contacts_list_admin_first_then_by_binding_and_call_in_the_admins_order():
    student = StudentFactory()
    now = timezone.now()
    first = ContactFactory(student=student, bound_at=now - timedelta(days=3))
    admin = ContactFactory(student=student, role=Contact.Role.ADMIN, bound_at=now - timedelta(days=1))
    last = ContactFactory(student=student, bound_at=now - timedelta(days=2), call_order=1)

    assert list(Contact.objects.filter(student=student).in_list_order()) == [admin, first, last]
    assert list(Contact.objects.filter(student=student).in_call_order()) == [last, admin, first]


def test_contacts_of_active_students_of_active_schools_only():
    served = ContactFactory()
    ContactFactory(student=StudentFactory(is_active=False))
    ContactFactory(student=StudentFactory(school=SchoolFactory(is_active=False)))
    assert list(Contact.objects.of_active_students()) == [served]


def test_a_parent_is_of_every_school_of_its_contacts_listed_once():
    a, b = SchoolFactory(), SchoolFactory()
    grandpa = ContactFactory(student=StudentFactory(school=a)).parent
    ContactFactory(student=StudentFactory(school=a), parent=grandpa)  # two grandchildren in school A
    ContactFactory(student=StudentFactory(school=b), parent=grandpa)
    only_b = ContactFactory(student=StudentFactory(school=b)).parent

    assert list(scoped(Parent.objects.all(), a.pk)) == [grandpa]
    assert set(scoped(Parent.objects.all(), b.pk)) == {grandpa, only_b}
