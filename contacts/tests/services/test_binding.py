"""Binding rules of seed 003 §2 as the services enforce them."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.mini_program import share_link_path
from contacts.models import BindEvent, Contact, ShareLink
from contacts.selectors.contacts import pending_actions
from contacts.services.binding import admin_bind, share_link_bind
from contacts.services.contacts import admin_transfer, contact_unbind_self, contacts_delete
from contacts.services.share_links import share_link_create, share_links_expire
from contacts.tests.factories import ContactFactory, ParentFactory
from core.errors import ApplicationError, Conflict, Forbidden, NotFound
from core.tokens import token_hash
from schools.models import AuditLog, OutboxEvent
from schools.tests.factories import SchoolFactory, StudentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def student():
    return StudentFactory(school=SchoolFactory(contact_limit=3))


@pytest.fixture
def admin(student):
    return ContactFactory(student=student, role=Contact.Role.ADMIN, bound_via=Contact.BoundVia.ADMIN_BINDING)


def events(type_):
    return BindEvent.objects.filter(type=type_).count()


class TestAdminBind:
    def test_first_parent_is_allowed_and_reserved_as_admin_with_audit(self, student):
        parent = ParentFactory()
        decision = admin_bind(parent=parent, user_id=student.user_id, relation="爸爸")
        assert (decision.allowed, decision.user_id, decision.type) == (True, student.user_id, "")
        contact = Contact.objects.get(student=student, parent=parent)
        assert (contact.role, contact.relation, contact.state) == (Contact.Role.ADMIN, "爸爸", "pending")
        assert decision.contact == contact
        assert not BindEvent.objects.exists()  # the plugin reports the outcome; the portal records refusals
        assert AuditLog.objects.filter(action="admin_bound", student=student, actor_openid=parent.openid).exists()
        assert not Contact.objects.served().exists()  # not served before WeChat has it

    def test_asking_again_before_the_plugin_answered_keeps_the_one_reservation(self, student):
        parent = ParentFactory()
        first = admin_bind(parent=parent, user_id=student.user_id)
        again = admin_bind(parent=parent, user_id=student.user_id)
        assert again.allowed and again.contact == first.contact
        assert Contact.objects.count() == 1

    def test_in_the_sandbox_the_binding_is_confirmed_at_once(self, student, settings):
        settings.WECHAT_SANDBOX = True
        decision = admin_bind(parent=ParentFactory(), user_id=student.user_id)
        assert decision.allowed and decision.contact.state == "confirmed"

    def test_without_scope_voip_answers_auth_and_binds_nothing(self, student):
        outcome = admin_bind(parent=ParentFactory(voip_scope_granted=False), user_id=student.user_id)
        assert outcome.type == "auth"
        assert not Contact.objects.exists()
        assert events("auth") == 1

    def test_already_bound_answers_binded(self, student, admin):
        assert admin_bind(parent=admin.parent, user_id=student.user_id).type == "binded"
        assert Contact.objects.count() == 1

    def test_second_parent_conflicts_when_an_admin_exists(self, student, admin):
        with pytest.raises(Conflict):
            admin_bind(parent=ParentFactory(), user_id=student.user_id)
        assert Contact.objects.count() == 1

    @pytest.mark.parametrize("make_student", [lambda: StudentFactory(is_active=False), lambda: None])
    def test_unknown_or_inactive_student_is_not_found(self, make_student):
        student = make_student()
        with pytest.raises(NotFound) as exc:
            admin_bind(parent=ParentFactory(), user_id=student.user_id if student else "wxfp_nobody")
        assert exc.value.field == "user_id"


class TestShareLinks:
    def test_only_the_admin_may_create_a_link(self, student, admin):
        ordinary = ContactFactory(student=student)
        with pytest.raises(Forbidden):
            share_link_create(parent=ordinary.parent, user_id=student.user_id)
        with pytest.raises(NotFound):
            share_link_create(parent=ParentFactory(), user_id=student.user_id)

    def test_link_is_unguessable_stored_hashed_and_expires_after_school_ttl(self, student, admin):
        link, token = share_link_create(parent=admin.parent, user_id=student.user_id)
        assert len(token) >= 43  # 256 bits in URL-safe base64
        assert token not in link.token_hash and link.token_hash == token_hash(token)
        assert link.expires_at - link.created_at == timedelta(hours=student.school.share_link_ttl)
        assert share_link_path(token).endswith(f"?token={token}")
        assert link.user_name == student.name

    def test_two_parents_bind_with_one_link(self, student, admin):
        _, token = share_link_create(parent=admin.parent, user_id=student.user_id)
        for relation in ("妈妈", "爷爷"):
            decision = share_link_bind(parent=ParentFactory(), token=token, relation=relation)
            assert decision.allowed and decision.contact.state == "pending"
        assert set(Contact.objects.filter(role=0).values_list("relation", flat=True)) == {"妈妈", "爷爷"}

    def test_binded_auth_and_overload(self, student, admin):
        _, token = share_link_create(parent=admin.parent, user_id=student.user_id)
        assert share_link_bind(parent=admin.parent, token=token).type == "binded"
        assert share_link_bind(parent=ParentFactory(voip_scope_granted=False), token=token).type == "auth"
        assert [share_link_bind(parent=ParentFactory(), token=token).type for _ in range(3)] == [
            "",
            "",
            "overload",
        ]  # reservations count toward the limit
        assert Contact.objects.filter(student=student).count() == student.school.contact_limit == 3
        # Each refusal of a known student is a bindContact event for the school's systems.
        told = OutboxEvent.objects.filter(school=student.school, type="bindContact").order_by("id")
        assert [e.data["type"] for e in told] == ["binded", "auth", "overload"]
        assert told.last().data["userId"] == student.user_id

    def test_unknown_token_is_invalid_and_recorded(self):
        parent = ParentFactory()
        outcome = share_link_bind(parent=parent, token="no-such-token")
        assert (outcome.type, outcome.user_id) == ("invalid", "")
        assert BindEvent.objects.get().openid == parent.openid
        assert not OutboxEvent.objects.exists()  # no student, no school to tell

    def test_revoked_link_and_inactive_student_are_invalid(self, student, admin):
        link, token = share_link_create(parent=admin.parent, user_id=student.user_id)
        ShareLink.objects.filter(pk=link.pk).update(state=ShareLink.State.REVOKED)
        assert share_link_bind(parent=ParentFactory(), token=token).type == "invalid"
        ShareLink.objects.filter(pk=link.pk).update(state=ShareLink.State.ACTIVE)
        student.is_active = False
        student.save()
        assert share_link_bind(parent=ParentFactory(), token=token).type == "invalid"
        assert not Contact.objects.filter(role=0).exists()

    def test_link_expires_as_soon_as_its_time_passes_without_the_sweep(self, student, admin):
        link, token = share_link_create(parent=admin.parent, user_id=student.user_id)
        later = link.expires_at + timedelta(seconds=1)
        with mock.patch("django.utils.timezone.now", return_value=later):
            assert share_link_bind(parent=ParentFactory(), token=token).type == "expire"
        link.refresh_from_db()
        assert link.state == ShareLink.State.ACTIVE  # the sweep has not run; binding did not need it

    def test_sweep_marks_only_expired_links_and_is_idempotent(self, student, admin):
        old, _ = share_link_create(parent=admin.parent, user_id=student.user_id)
        fresh, _ = share_link_create(parent=admin.parent, user_id=student.user_id)
        ShareLink.objects.filter(pk=old.pk).update(
            created_at=timezone.now() - timedelta(days=2), expires_at=timezone.now() - timedelta(minutes=1)
        )
        assert share_links_expire() == 1
        assert share_links_expire() == 0
        old.refresh_from_db()
        fresh.refresh_from_db()
        assert (old.state, fresh.state) == ("expired", "active")


class TestContactManagement:
    @pytest.fixture
    def family(self, student, admin):
        return admin, ContactFactory(student=student), ContactFactory(student=student)

    def test_a_reported_deletion_stops_serving_at_once_and_waits_for_wechat(self, student, family):
        admin, b, c = family
        remaining = contacts_delete(parent=admin.parent, user_id=student.user_id, openid_list=[b.parent.openid])
        assert remaining == [admin.parent.openid, c.parent.openid]
        b.refresh_from_db()
        assert b.state == "removing" and b not in Contact.objects.served()
        assert AuditLog.objects.filter(action="contact_removal_reported", student=student).count() == 1
        assert not BindEvent.objects.exists()  # the cancel is recorded when WeChat no longer has it

    def test_a_repeated_report_and_openids_not_bound_change_nothing_more(self, student, family):
        admin, b, _ = family
        for _ in range(2):
            contacts_delete(parent=admin.parent, user_id=student.user_id, openid_list=[b.parent.openid, "oStranger"])
        assert Contact.objects.filter(student=student).count() == 3
        assert AuditLog.objects.filter(action="contact_removal_reported").count() == 1

    def test_in_the_sandbox_a_deletion_is_done_at_once_with_a_cancel_event(self, student, family, settings):
        settings.WECHAT_SANDBOX = True
        admin, b, c = family
        contacts_delete(parent=admin.parent, user_id=student.user_id, openid_list=[b.parent.openid])
        assert not Contact.objects.filter(pk=b.pk).exists()
        cancel = BindEvent.objects.get(type="cancel")
        assert (cancel.openid, cancel.user_id, cancel.source) == (b.parent.openid, student.user_id, "portal")

    def test_admin_cannot_delete_itself_and_others_cannot_delete(self, student, family):
        admin, b, c = family
        with pytest.raises(ApplicationError) as exc:
            contacts_delete(parent=admin.parent, user_id=student.user_id, openid_list=[admin.parent.openid])
        assert exc.value.field == "openid_list"
        with pytest.raises(Forbidden):
            contacts_delete(parent=b.parent, user_id=student.user_id, openid_list=[c.parent.openid])
        with pytest.raises(NotFound):
            contacts_delete(parent=ParentFactory(), user_id=student.user_id, openid_list=[c.parent.openid])
        assert Contact.objects.filter(student=student).count() == 3

    def test_a_reported_transfer_waits_for_wechat(self, student, family):
        admin, b, _ = family
        link, _token = share_link_create(parent=admin.parent, user_id=student.user_id)
        new = admin_transfer(parent=admin.parent, user_id=student.user_id, new_admin_openid=b.parent.openid)
        assert new.role == Contact.Role.ORDINARY and new.admin_requested_at is not None
        assert Contact.objects.get(student=student, role=Contact.Role.ADMIN) == admin  # WeChat's list decides
        link.refresh_from_db()
        assert link.state == ShareLink.State.ACTIVE

    def test_in_the_sandbox_transfer_moves_the_role_and_revokes_the_old_admins_links(self, student, family, settings):
        settings.WECHAT_SANDBOX = True
        admin, b, _ = family
        link, token = share_link_create(parent=admin.parent, user_id=student.user_id)
        admin_transfer(parent=admin.parent, user_id=student.user_id, new_admin_openid=b.parent.openid)
        roles = dict(Contact.objects.filter(student=student).values_list("parent__openid", "role"))
        assert roles[admin.parent.openid] == 0 and roles[b.parent.openid] == 1
        assert list(roles.values()).count(1) == 1
        link.refresh_from_db()
        assert link.state == ShareLink.State.REVOKED
        assert share_link_bind(parent=ParentFactory(), token=token).type == "invalid"

    def test_old_admins_link_is_invalid_even_when_not_revoked(self, student, family):
        admin, b, _ = family
        link, token = share_link_create(parent=admin.parent, user_id=student.user_id)
        Contact.objects.filter(pk=admin.pk).update(role=0)
        Contact.objects.filter(pk=b.pk).update(role=1)
        assert share_link_bind(parent=ParentFactory(), token=token).type == "invalid"

    def test_transfer_rules(self, student, family):
        admin, b, c = family
        with pytest.raises(Forbidden):
            admin_transfer(parent=b.parent, user_id=student.user_id, new_admin_openid=c.parent.openid)
        with pytest.raises(NotFound) as exc:
            admin_transfer(parent=admin.parent, user_id=student.user_id, new_admin_openid="oStranger")
        assert exc.value.field == "new_admin_openid"
        with pytest.raises(ApplicationError):
            admin_transfer(parent=admin.parent, user_id=student.user_id, new_admin_openid=admin.parent.openid)
        assert Contact.objects.get(student=student, role=1) == admin

    def test_self_unbind(self, student, family):
        admin, b, c = family
        contact_unbind_self(parent=b.parent, user_id=student.user_id)
        b.refresh_from_db()
        assert b.state == "removing"  # not served; the admin deletes it at WeChat
        assert pending_actions(parent=admin.parent) == [
            {"user_id": student.user_id, "delete_openid_list": [b.parent.openid], "new_admin_openid": None}
        ]
        with pytest.raises(Conflict):
            contact_unbind_self(parent=admin.parent, user_id=student.user_id)
        with pytest.raises(NotFound):
            contact_unbind_self(parent=b.parent, user_id=student.user_id)

    def test_sole_admin_may_leave_and_its_links_are_revoked(self, student, admin):
        link, _ = share_link_create(parent=admin.parent, user_id=student.user_id)
        contact_unbind_self(parent=admin.parent, user_id=student.user_id)
        assert not Contact.objects.served().filter(student=student).exists()
        assert pending_actions(parent=admin.parent) == []  # WeChat lets no admin delete itself (§2.3)
        link.refresh_from_db()
        assert link.state == ShareLink.State.REVOKED


class TestConstraints:
    def test_one_contact_per_student_and_parent(self, admin):
        with pytest.raises(IntegrityError), transaction.atomic():
            Contact.objects.create(student=admin.student, parent=admin.parent, bound_via="staff")

    def test_at_most_one_admin_per_student(self, student, admin):
        with pytest.raises(IntegrityError), transaction.atomic():
            ContactFactory(student=student, role=Contact.Role.ADMIN)
        ContactFactory(role=Contact.Role.ADMIN)  # another student's admin is fine
