"""Claim codes (issue 4 §4): a school may require the code printed on a student's letter for admin
binding; staff issue codes per class from the student list and print the letters (HTML or PDF).
"""

import re
import time
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from contacts.models import ClaimCode, Contact, Parent
from contacts.services.binding import admin_bind
from contacts.services.claim_codes import CLAIM_CODE_ALPHABET, claim_codes_issue
from contacts.tests.factories import ParentFactory
from core.errors import ApplicationError, NotFound
from core.tests.concurrency import run_threads
from schools.models import AuditLog, StaffMembership
from schools.tests.factories import SchoolFactory, StaffMembershipFactory, StudentFactory, UserFactory

CODE_RE = re.compile(rf"\b[{CLAIM_CODE_ALPHABET}]{{5}}-[{CLAIM_CODE_ALPHABET}]{{5}}\b")
CHANGELIST = "admin:schools_student_changelist"
ACTION = "issue_claim_codes"


@pytest.fixture
def staff_user(db):
    """A platform user: the services' own role check lets it issue codes in any school."""
    return UserFactory(username="teacher", is_superuser=True)


@pytest.fixture
def student(db):
    return StudentFactory(school=SchoolFactory(require_claim_code=True, claim_code_ttl_days=30))


@pytest.fixture
def parent_client(parent_api):
    client = parent_api("oParentClaimCode")
    Parent.objects.filter(pk=client.parent.pk).update(voip_scope_granted=True)
    return client


def issue(student, user) -> str:
    [(_, code)] = claim_codes_issue(students=[student], issued_by=user)
    return code


def bind(client, student, **body):
    return client.post(f"/api/v1/students/{student.user_id}/admin", body, format="json")


# --- API -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_codes_look_as_printed_and_are_distinct(staff_user):
    students = StudentFactory.create_batch(30)
    issued = claim_codes_issue(students=students, issued_by=staff_user)
    codes = [code for _, code in issued]
    assert [s.pk for s, _ in issued] == [s.pk for s in students]
    assert all(CODE_RE.fullmatch(code) for code in codes), codes
    assert not set("0O1IL") & set("".join(codes))
    assert len(set(codes)) == 30


@pytest.mark.django_db
def test_missing_code_when_required_is_400_naming_claim_code_and_not_counted(parent_client, student, staff_user):
    code = issue(student, staff_user)
    for body in ({}, {"claim_code": ""}, {"claim_code": " - "}, {"relation": "爸爸"}):
        response = bind(parent_client, student, **body)
        assert response.status_code == 400, response.content
        assert response.json()["field"] == "claim_code"
        assert response.json()["code"] == "claim_code_required"
    assert bind(parent_client, student, claim_code=code).json()["allowed"] is True  # 4 missing codes counted nothing


@pytest.mark.django_db
def test_wrong_expired_used_and_revoked_codes_answer_alike(parent_api, parent_client, student, staff_user):
    answers = {}
    current = issue(student, staff_user)
    answers["wrong"] = bind(
        parent_client, student, claim_code="ABCDE-FGHJK" if current != "ABCDE-FGHJK" else "ABCDE-FGHJM"
    )

    revoked = current
    current = issue(student, staff_user)
    answers["revoked"] = bind(parent_client, student, claim_code=revoked)

    past = timezone.now() - timedelta(days=1)
    ClaimCode.objects.filter(student=student, revoked_at__isnull=True).update(
        created_at=past - timedelta(days=30), expires_at=past
    )
    answers["expired"] = bind(parent_client, student, claim_code=current)

    used = issue(student, staff_user)
    assert bind(parent_client, student, claim_code=used).json()["allowed"] is True
    other = parent_api("oOtherParentClaimCode")
    Parent.objects.filter(pk=other.parent.pk).update(voip_scope_granted=True)
    answers["used"] = bind(other, student, claim_code=used)

    bodies = {kind: (r.status_code, r.json()) for kind, r in answers.items()}
    assert bodies["wrong"][0] == 400
    assert bodies["wrong"][1]["field"] == "claim_code" and bodies["wrong"][1]["code"] == "invalid_claim_code"
    assert all(body == bodies["wrong"] for body in bodies.values()), bodies
    assert Contact.objects.filter(student=student).count() == 1


@pytest.mark.django_db
def test_correct_code_binds_the_admin_and_is_used_in_the_same_write(parent_client, student, staff_user):
    code = issue(student, staff_user)

    response = bind(parent_client, student, claim_code=code, relation="妈妈")

    assert response.status_code == 200 and response.json()["allowed"] is True
    contact = Contact.objects.get(student=student)
    assert contact.is_admin and contact.parent == parent_client.parent and contact.relation == "妈妈"
    claim = ClaimCode.objects.get(student=student)
    assert claim.used_at is not None and claim.used_by == parent_client.parent and claim.revoked_at is None
    audit = AuditLog.objects.get(student=student, action="admin_bound")
    assert audit.data == {"relation": "妈妈", "claim_code": claim.pk, "state": "pending"}


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["lower", "no-dash", "spaces", "full-width"])
def test_code_is_accepted_in_any_case_with_or_without_dash(parent_client, student, staff_user, typed):
    code = issue(student, staff_user)
    variant = {
        "lower": code.lower(),
        "no-dash": code.replace("-", ""),
        "spaces": f"  {code[:3]} {code[3:5]}  {code[6:].lower()} ",
        "full-width": "".join(chr(ord(c) + 0xFEE0) if c != "-" else "－" for c in code),
    }[typed]
    assert bind(parent_client, student, claim_code=variant).json()["allowed"] is True


@pytest.mark.django_db
def test_code_is_not_spent_when_the_binding_does_not_happen(parent_client, student, staff_user):
    code = issue(student, staff_user)
    Parent.objects.filter(pk=parent_client.parent.pk).update(voip_scope_granted=False)
    assert bind(parent_client, student, claim_code=code).json()["type"] == "auth"
    assert ClaimCode.objects.get(student=student).used_at is None
    Parent.objects.filter(pk=parent_client.parent.pk).update(voip_scope_granted=True)
    assert bind(parent_client, student, claim_code=code).json()["allowed"] is True


@pytest.mark.django_db
def test_five_wrong_codes_lock_the_student_for_the_window(parent_client, student, staff_user, settings):
    settings.CLAIM_CODE_WINDOW = timedelta(seconds=1)
    code = issue(student, staff_user)
    neighbour = StudentFactory(school=student.school)
    neighbour_code = issue(neighbour, staff_user)

    wrong = [bind(parent_client, student, claim_code="XXXXX-XXXXX").status_code for _ in range(5)]
    assert wrong == [400] * 5
    locked = bind(parent_client, student, claim_code=code)  # even the right code, for the rest of the window
    assert locked.status_code == 429
    assert locked.json()["field"] == "claim_code"
    assert bind(parent_client, student, claim_code="XXXXX-XXXXX").status_code == 429
    assert not Contact.objects.filter(student=student).exists()
    assert bind(parent_client, neighbour, claim_code=neighbour_code).json()["allowed"] is True  # per student

    time.sleep(1.1)
    assert bind(parent_client, student, claim_code=code).json()["allowed"] is True


@pytest.mark.django_db
def test_reissuing_invalidates_the_old_code(parent_client, student, staff_user):
    old = issue(student, staff_user)
    new = issue(student, staff_user)
    assert ClaimCode.objects.filter(student=student, used_at__isnull=True, revoked_at__isnull=True).count() == 1
    assert ClaimCode.objects.filter(student=student, revoked_at__isnull=False).count() == 1
    assert bind(parent_client, student, claim_code=old).status_code == 400
    assert bind(parent_client, student, claim_code=new).json()["allowed"] is True


@pytest.mark.django_db
def test_one_live_code_per_student_is_a_database_constraint(student, staff_user):
    issue(student, staff_user)
    with pytest.raises(IntegrityError), transaction.atomic():
        ClaimCode.objects.create(student=student, code_hash="f" * 64, expires_at=timezone.now() + timedelta(days=1))


@pytest.mark.django_db
def test_nothing_reversible_is_stored(student, staff_user):
    code = issue(student, staff_user)
    forms = {code, code.replace("-", ""), code.lower(), code.replace("-", "").lower()}
    for model in apps.get_models():
        for row in model.objects.all().values_list():
            text = repr(row)
            assert not any(form in text for form in forms), (model, row)
    claim = ClaimCode.objects.get(student=student)
    assert re.fullmatch(r"[0-9a-f]{64}", claim.code_hash)


@pytest.mark.django_db
def test_school_without_claim_codes_binds_as_before(parent_client, staff_user):
    student = StudentFactory(school=SchoolFactory(require_claim_code=False))
    issue(student, staff_user)
    assert bind(parent_client, student).json()["allowed"] is True
    assert ClaimCode.objects.get(student=student).used_at is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_code_used_at_once_by_many_parents_binds_exactly_one():
    student = StudentFactory(school=SchoolFactory(require_claim_code=True))
    code = issue(student, StaffMembershipFactory(school=student.school, user=UserFactory(username="teacher-pg")).user)
    parents = [ParentFactory() for _ in range(8)]

    results = run_threads(8, lambda i: admin_bind(parent=parents[i], user_id=student.user_id, claim_code=code).allowed)

    assert results.count(True) == 1, results
    assert all(isinstance(r, ApplicationError) and r.field == "claim_code" for r in results if r is not True), results
    assert Contact.objects.filter(student=student).count() == 1
    claim = ClaimCode.objects.get(student=student)
    assert claim.used_at is not None and claim.used_by == Contact.objects.get(student=student).parent


# --- Admin -----------------------------------------------------------------------------------------


def staff_of(school, username, role=StaffMembership.Role.ADMIN):
    membership = StaffMembershipFactory(school=school, user=UserFactory(username=username), role=role)
    membership.user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["schools", "contacts"],
            codename__in=["view_student", "change_student", "view_claimcode"],
        )
    )
    return membership.user


@pytest.fixture
def classroom(db):
    school = SchoolFactory(name="第一实验小学", require_claim_code=True)
    first = StudentFactory(school=school, name="王子涵", grade="三年级", class_name="三年级2班")
    second = StudentFactory(school=school, name="李思琪", grade="三年级", class_name="三年级2班")
    StudentFactory(school=school, name="张浩宇", grade="三年级", class_name="三年级3班")
    return school, [first, second]


def confirm(client, students) -> str:
    """Choose the action on the student list; returns the confirmation page's nonce."""
    response = client.post(
        reverse(CHANGELIST), {"action": ACTION, "_selected_action": [s.pk for s in students], "index": 0}
    )
    assert response.status_code == 200, response.content
    page = response.content.decode()
    for student in students:
        assert student.name in page
    return re.search(r'name="nonce" value="([^"]+)"', page).group(1)


def print_letters(client, students, nonce, fmt):
    data = {"action": ACTION, "_selected_action": [s.pk for s in students], "issue": "1", "format": fmt, "nonce": nonce}
    return client.post(reverse(CHANGELIST), data)


def test_staff_issue_a_class_and_print_html_letters(client, classroom, parent_client):
    school, students = classroom
    teacher = staff_of(school, "teacher-a")
    client.force_login(teacher)

    response = print_letters(client, students, confirm(client, students), "html")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "page-break-after" in page
    letters = page.split('<section class="letter">')[1:]
    assert len(letters) == 2
    codes = []
    for student, letter in zip(students, letters, strict=True):
        assert student.name in letter and school.name in letter and "三年级2班" in letter
        assert letter.count('<img src="data:image/png;base64,') == 1  # the mini-program code
        [code] = CODE_RE.findall(letter)
        codes.append(code)
    assert ClaimCode.objects.filter(student__in=students, used_at__isnull=True, revoked_at__isnull=True).count() == 2
    audit = AuditLog.objects.filter(action=AuditLog.Action.CLAIM_CODE_ISSUED)
    assert sorted(audit.values_list("student_id", flat=True)) == sorted(s.pk for s in students)
    assert set(audit.values_list("actor_user_id", flat=True)) == {teacher.pk}
    # The printed code is the one that works.
    assert bind(parent_client, students[0], claim_code=codes[0]).json()["allowed"] is True


def test_resubmitting_the_confirmation_issues_nothing_again(client, classroom, fake_wechat):
    school, students = classroom
    client.force_login(staff_of(school, "teacher-a"))
    nonce = confirm(client, students)
    assert print_letters(client, students, nonce, "html").status_code == 200
    before = list(ClaimCode.objects.order_by("pk").values_list("pk", "revoked_at"))

    again = print_letters(client, students, nonce, "pdf")  # e.g. the browser's "resend form"

    assert again.status_code == 302
    assert list(ClaimCode.objects.order_by("pk").values_list("pk", "revoked_at")) == before
    assert AuditLog.objects.filter(action=AuditLog.Action.CLAIM_CODE_ISSUED).count() == 2


def test_staff_print_pdf_letters_one_page_per_student(client, classroom, parent_client):
    school, students = classroom
    client.force_login(staff_of(school, "teacher-a"))
    html = print_letters(client, students, confirm(client, students), "html").content.decode()
    first_codes = CODE_RE.findall(html)

    response = print_letters(client, students, confirm(client, students), "pdf")

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"] and "no-store" in response["Cache-Control"]
    pdf = response.content
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 2
    assert AuditLog.objects.filter(action=AuditLog.Action.CLAIM_CODE_ISSUED).count() == 4
    assert ClaimCode.objects.filter(student__in=students, revoked_at__isnull=False).count() == 2
    assert bind(parent_client, students[0], claim_code=first_codes[0]).status_code == 400  # the HTML set was replaced


def test_staff_cannot_issue_codes_for_another_schools_students(client, classroom):
    _, students = classroom
    other_school = SchoolFactory(name="第二实验小学")
    own = StudentFactory(school=other_school, name="陈一诺")
    client.force_login(staff_of(other_school, "teacher-b"))

    page = client.post(
        reverse(CHANGELIST), {"action": ACTION, "_selected_action": [s.pk for s in students], "index": 0}
    )
    assert all(s.name not in page.content.decode() for s in students)

    nonce = confirm(client, [own])  # a genuine nonce, then a crafted POST with the other school's ids
    response = print_letters(client, students, nonce, "html")

    assert response.status_code == 302
    assert not ClaimCode.objects.filter(student__in=students).exists()
    assert not AuditLog.objects.filter(action=AuditLog.Action.CLAIM_CODE_ISSUED).exists()


def test_read_only_viewer_cannot_issue(client, classroom):
    school, students = classroom
    client.force_login(staff_of(school, "viewer-a", role=StaffMembership.Role.VIEWER))
    response = client.post(
        reverse(CHANGELIST), {"action": ACTION, "_selected_action": [s.pk for s in students], "index": 0}
    )
    assert response.status_code in (200, 302)
    assert b'name="nonce"' not in response.content
    assert not ClaimCode.objects.exists()


def test_claim_code_list_shows_state_but_never_the_code(client, classroom):
    school, students = classroom
    teacher = staff_of(school, "teacher-a")
    issued = claim_codes_issue(students=students, issued_by=teacher)
    foreign = StudentFactory(school=SchoolFactory(), name="外校学生")
    with pytest.raises(NotFound):  # the service checks the school itself
        claim_codes_issue(students=[foreign], issued_by=teacher)
    claim_codes_issue(students=[foreign], issued_by=staff_of(foreign.school, "teacher-b"))
    client.force_login(teacher)

    page = client.get(reverse("admin:contacts_claimcode_changelist")).content.decode()

    assert all(s.name in page for s in students) and "外校学生" not in page
    assert "三年级2班" in page
    for _, code in issued:
        assert code not in page
    for claim in ClaimCode.objects.all():
        assert claim.code_hash not in page
    detail = client.get(
        reverse("admin:contacts_claimcode_change", args=[ClaimCode.objects.filter(student=students[0]).get().pk])
    )
    assert (
        detail.status_code == 200
        and ClaimCode.objects.get(student=students[0]).code_hash not in detail.content.decode()
    )
