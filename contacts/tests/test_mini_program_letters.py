"""Mini-program codes on what staff print (``contacts.letters``): the claim-code letters (HTML and PDF)
carry WeChat's code of the admin-binding page, fetched once per student and kept; WeChat's refusals
fail the batch with a message and issue nothing; the class posters list a class with its codes."""

import base64
import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import translation

from contacts.models import ClaimCode, MiniProgramCode, MiniProgramScene
from contacts.services.mini_program_codes import mini_program_scenes_ensure
from core.wechat.errcodes import ErrCode, envelope
from schools.models import AuditLog, StaffMembership
from schools.tests.factories import SchoolFactory, StaffMembershipFactory, StudentFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:schools_student_changelist"
WXACODE = "/wxa/getwxacodeunlimit"
DATA_URI = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def staff_of(school, username, role=StaffMembership.Role.ADMIN):
    membership = StaffMembershipFactory(school=school, user=UserFactory(username=username), role=role)
    membership.user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["schools", "contacts"],
            codename__in=["view_student", "change_student", "view_claimcode"],
        )
    )
    return membership.user


@pytest.fixture(autouse=True)
def _english(client):
    """Messages in English, the msgids these tests read; a request leaves its language active, so reset it."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    yield
    translation.deactivate()


@pytest.fixture
def classroom():
    school = SchoolFactory(name="第一实验小学", miniprogram_state="trial")
    students = [
        StudentFactory(school=school, name="王子涵", grade="三年级", class_name="三年级2班"),
        StudentFactory(school=school, name="李思琪", grade="三年级", class_name="三年级2班"),
    ]
    return school, students


@pytest.fixture
def teacher_client(client, classroom):
    client.force_login(staff_of(classroom[0], "teacher-a"))
    return client


def wxacode_bodies(fake_wechat) -> list[dict]:
    return [body for _method, path, _query, body in fake_wechat.requests if path == WXACODE]


def print_letters(client, students, fmt, *, follow=False):
    """Choose the action, confirm it (HTML or PDF): the response with the letters (or the redirect)."""
    selected = [s.pk for s in students]
    page = client.post(reverse(CHANGELIST), {"action": "issue_claim_codes", "_selected_action": selected})
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.content.decode()).group(1)
    data = {"action": "issue_claim_codes", "_selected_action": selected, "issue": "1", "format": fmt, "nonce": nonce}
    return client.post(reverse(CHANGELIST), data, follow=follow)


def print_posters(client, students, action="print_class_posters", *, follow=False):
    data = {"action": action, "_selected_action": [s.pk for s in students]}
    return client.post(reverse(CHANGELIST), data, follow=follow)


# --- letters -------------------------------------------------------------------------------------------


def test_html_letters_embed_the_code_wechat_made_for_each_student(teacher_client, classroom, fake_wechat):
    _, students = classroom

    response = print_letters(teacher_client, students, "html")

    assert response.status_code == 200
    scenes = {s.pk: MiniProgramScene.objects.get(student=s).code for s in students}
    assert wxacode_bodies(fake_wechat) == [
        {"scene": scenes[s.pk], "page": "pages/bind-admin/index", "check_path": False, "env_version": "trial"}
        for s in students
    ]
    letters = response.content.decode().split('<section class="letter">')[1:]
    for student, letter in zip(students, letters, strict=True):
        assert student.name in letter
        [encoded] = DATA_URI.findall(letter)
        assert base64.b64decode(encoded) == fake_wechat.wxacode_images[scenes[student.pk]]
    assert "?user_id=" not in response.content.decode()  # the student travels as its scene only


def test_pdf_letters_draw_the_code(teacher_client, classroom, fake_wechat):
    _, students = classroom

    response = print_letters(teacher_client, students, "pdf")

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = response.content
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 2
    assert len(re.findall(rb"/Subtype\s*/Image\b", pdf)) == 2  # one code per letter
    assert fake_wechat.wxacodes_issued == 2


def test_printing_again_asks_wechat_nothing_and_prints_the_same_codes(teacher_client, classroom, fake_wechat):
    _, students = classroom
    first = DATA_URI.findall(print_letters(teacher_client, students, "html").content.decode())
    asked = len(fake_wechat.requests)

    again = print_letters(teacher_client, students, "html")
    print_letters(teacher_client, students, "pdf")

    assert DATA_URI.findall(again.content.decode()) == first
    assert len(fake_wechat.requests) == asked and fake_wechat.wxacodes_issued == 2
    assert MiniProgramCode.objects.count() == 2
    assert ClaimCode.objects.filter(student__in=students, revoked_at__isnull=False).count() == 4  # 3 batches


@pytest.mark.parametrize("refusal", ["scene", "page"])
def test_a_refusal_of_wechat_fails_the_batch_with_a_message_and_issues_nothing(
    teacher_client, classroom, fake_wechat, settings, refusal
):
    school, students = classroom
    if refusal == "scene":
        scene = mini_program_scenes_ensure(students=[students[1]])[students[1].pk].code
        fake_wechat.wxacode_answers[scene] = envelope(ErrCode.SCENE_INVALID)
        expected = "40169"
    else:
        school.miniprogram_state = "formal"  # WeChat checks the page of the released version
        school.save()
        settings.ADMIN_BIND_PAGE_PATH = "/pages/not-released/index"
        expected = "41030"

    response = print_letters(teacher_client, students, "html", follow=True)

    assert response.redirect_chain and response.status_code == 200
    page = response.content.decode()
    assert "No claim code was issued" in page and expected in page
    assert not ClaimCode.objects.exists()
    assert not AuditLog.objects.filter(action=AuditLog.Action.CLAIM_CODE_ISSUED).exists()
    assert MiniProgramCode.objects.count() == (1 if refusal == "scene" else 0)  # only the code WeChat made


def test_wechat_unreachable_fails_the_batch_with_a_message(teacher_client, classroom):
    _, students = classroom  # WECHAT_API_BASE_URL is a closed port
    response = print_letters(teacher_client, students, "pdf", follow=True)
    assert "No claim code was issued" in response.content.decode()
    assert not ClaimCode.objects.exists()


def test_sandbox_letters_carry_a_local_qr_code_and_ask_wechat_nothing(teacher_client, classroom, fake_wechat, settings):
    settings.WECHAT_SANDBOX = True
    _, students = classroom

    html = print_letters(teacher_client, students, "html")
    pdf = print_letters(teacher_client, students, "pdf")

    assert len(DATA_URI.findall(html.content.decode())) == 2
    assert pdf.content.startswith(b"%PDF")
    assert fake_wechat.requests == []
    assert not MiniProgramCode.objects.exists()


# --- class posters -------------------------------------------------------------------------------------


@pytest.fixture
def school_with_classes(classroom):
    school, students = classroom
    third = StudentFactory(school=school, name="张浩宇", grade="三年级", class_name="三年级3班")
    left = StudentFactory(school=school, name="刘欣怡", grade="三年级", class_name="三年级3班", is_active=False)
    return school, [*students, third, left]


def test_a_poster_per_class_lists_its_active_students_with_their_codes(
    teacher_client, school_with_classes, fake_wechat
):
    school, students = school_with_classes

    response = print_posters(teacher_client, students)

    assert response.status_code == 200
    posters = response.content.decode().split('<section class="poster">')[1:]
    assert len(posters) == 2
    assert "三年级2班" in posters[0] and "王子涵" in posters[0] and "李思琪" in posters[0]
    assert "三年级3班" in posters[1] and "张浩宇" in posters[1] and "刘欣怡" not in posters[1]
    scenes = dict(MiniProgramScene.objects.values_list("student__name", "code"))
    [encoded] = DATA_URI.findall(posters[1])
    assert base64.b64decode(encoded) == fake_wechat.wxacode_images[scenes["张浩宇"]]
    assert fake_wechat.wxacodes_issued == 3
    assert not ClaimCode.objects.exists()  # a poster issues no claim code


def test_posters_as_pdf_one_page_per_class(teacher_client, school_with_classes, fake_wechat):
    _, students = school_with_classes

    response = print_posters(teacher_client, students, "print_class_posters_pdf")

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert len(re.findall(rb"/Type\s*/Page\b", response.content)) == 2
    assert len(re.findall(rb"/Subtype\s*/Image\b", response.content)) == 3


def test_a_large_class_continues_on_the_next_pdf_page(teacher_client, classroom, fake_wechat):
    school, _ = classroom
    students = StudentFactory.create_batch(45, school=school, grade="四年级", class_name="四年级1班")
    response = print_posters(teacher_client, students, "print_class_posters_pdf")
    assert len(re.findall(rb"/Type\s*/Page\b", response.content)) == 2


def test_posters_show_only_the_staff_users_school(client, classroom, fake_wechat):
    _, students = classroom
    other_school = SchoolFactory(name="第二实验小学")
    own = StudentFactory(school=other_school, name="陈一诺")
    client.force_login(staff_of(other_school, "teacher-b"))

    crafted = print_posters(client, [*students, own])
    only_theirs = print_posters(client, students, follow=True)

    page = crafted.content.decode()
    assert "陈一诺" in page and all(s.name not in page for s in students)
    assert "第一实验小学" not in page
    assert "no poster printed" in only_theirs.content.decode()
    assert not MiniProgramScene.objects.filter(student__in=students).exists()
    assert fake_wechat.wxacodes_issued == 1


def test_a_refusal_of_wechat_prints_no_poster(teacher_client, classroom, fake_wechat, settings):
    school, students = classroom
    school.miniprogram_state = "formal"
    school.save()
    settings.ADMIN_BIND_PAGE_PATH = "/pages/not-released/index"

    response = print_posters(teacher_client, students, follow=True)

    assert response.redirect_chain
    assert "No poster printed" in response.content.decode() and "41030" in response.content.decode()


def test_read_only_viewer_cannot_print_posters(client, classroom, fake_wechat):
    school, students = classroom
    client.force_login(staff_of(school, "viewer-a", role=StaffMembership.Role.VIEWER))
    response = print_posters(client, students)
    assert '<section class="poster">' not in response.content.decode()
    assert fake_wechat.requests == [] and not MiniProgramScene.objects.exists()
