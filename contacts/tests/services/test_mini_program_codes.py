"""Mini-program codes (``contacts.services.mini_program_codes``): a scene per student, WeChat's
images of the admin-binding page (REFERENCE.md §5, getwxacodeunlimit), kept once fetched."""

import re

import pytest
from django.db import IntegrityError, transaction

from contacts.models import MiniProgramCode, MiniProgramScene
from contacts.services.claim_codes import claim_codes_issue
from contacts.services.mini_program_codes import (
    SCENE_LENGTH,
    admin_bind_wxacodes_get,
    mini_program_scenes_ensure,
    wxacode_get,
)
from core.errors import ApplicationError, UpstreamError, UpstreamUnavailable
from core.wechat.errcodes import ErrCode, envelope
from schools.tests.factories import SchoolFactory, StaffMembershipFactory, StudentFactory

pytestmark = pytest.mark.django_db

WXACODE = "/wxa/getwxacodeunlimit"
PAGE = "pages/bind-admin/index"


def wxacode_bodies(fake_wechat) -> list[dict]:
    return [body for _method, path, _query, body in fake_wechat.requests if path == WXACODE]


# --- scenes ----------------------------------------------------------------------------------------


def test_each_student_gets_one_short_random_scene():
    students = StudentFactory.create_batch(20)

    scenes = mini_program_scenes_ensure(students=students)

    assert list(scenes) == [s.pk for s in students]
    codes = [scenes[s.pk].code for s in students]
    assert all(re.fullmatch(rf"[0-9A-Za-z]{{{SCENE_LENGTH}}}", code) for code in codes), codes
    assert len(set(codes)) == 20
    assert all(scenes[s.pk].student is s for s in students)  # the rows given, school and all


def test_a_student_keeps_its_scene_and_reissuing_a_claim_code_does_not_rotate_it():
    student = StudentFactory()
    first = mini_program_scenes_ensure(students=[student])[student.pk]

    teacher = StaffMembershipFactory(school=student.school).user
    claim_codes_issue(students=[student], issued_by=teacher)
    claim_codes_issue(students=[student], issued_by=teacher)
    again = mini_program_scenes_ensure(students=[student, student])

    assert list(again) == [student.pk]
    assert again[student.pk].pk == first.pk and again[student.pk].code == first.code
    assert MiniProgramScene.objects.count() == 1


def test_one_scene_per_student_and_unique_codes_are_database_constraints():
    student, other = StudentFactory(), StudentFactory()
    scene = mini_program_scenes_ensure(students=[student])[student.pk]
    with pytest.raises(IntegrityError), transaction.atomic():
        MiniProgramScene.objects.create(student=student, code="AnotherCode1")
    with pytest.raises(IntegrityError), transaction.atomic():
        MiniProgramScene.objects.create(student=other, code=scene.code)
    with pytest.raises(IntegrityError), transaction.atomic():
        MiniProgramScene.objects.create(student=other, code="has space 123")  # not WeChat's scene characters


def test_scenes_are_school_scoped():
    mine, theirs = StudentFactory(), StudentFactory()
    mini_program_scenes_ensure(students=[mine, theirs])
    assert list(MiniProgramScene.objects.for_school(mine.school_id).values_list("student_id", flat=True)) == [mine.pk]


# --- images from WeChat ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "env_version", "check_path"),
    [("formal", "release", True), ("trial", "trial", False), ("developer", "develop", False)],
)
def test_the_code_opens_the_schools_version_of_the_admin_binding_page(
    fake_wechat, settings, state, env_version, check_path
):
    settings.ADMIN_BIND_PAGE_PATH = "/pages/bind-admin/index"
    student = StudentFactory(school=SchoolFactory(miniprogram_state=state))

    images = admin_bind_wxacodes_get(students=[student])

    scene = MiniProgramScene.objects.get(student=student).code
    assert wxacode_bodies(fake_wechat) == [
        {"scene": scene, "page": PAGE, "check_path": check_path, "env_version": env_version}
    ]
    assert images == {student.pk: fake_wechat.wxacode_images[scene]}
    assert images[student.pk].startswith(b"\x89PNG")
    kept = MiniProgramCode.objects.get()
    assert (kept.scene.code, kept.page, kept.env_version, bytes(kept.image)) == (
        scene,
        PAGE,
        env_version,
        images[student.pk],
    )


def test_a_kept_code_is_not_asked_again(fake_wechat, django_assert_num_queries):
    students = StudentFactory.create_batch(3)
    first = admin_bind_wxacodes_get(students=students)
    assert fake_wechat.wxacodes_issued == 3

    with django_assert_num_queries(4):  # the scenes (in a savepoint here: 3), the kept images
        second = admin_bind_wxacodes_get(students=students)

    assert second == first
    assert fake_wechat.wxacodes_issued == 3 and len(wxacode_bodies(fake_wechat)) == 3


def test_another_version_of_the_mini_program_is_another_code(fake_wechat):
    student = StudentFactory(school=SchoolFactory(miniprogram_state="trial"))
    trial = admin_bind_wxacodes_get(students=[student])
    student.school.miniprogram_state = "formal"
    student.school.save()

    admin_bind_wxacodes_get(students=[student])
    admin_bind_wxacodes_get(students=[student])

    assert [body["env_version"] for body in wxacode_bodies(fake_wechat)] == ["trial", "release"]
    assert sorted(MiniProgramCode.objects.values_list("env_version", flat=True)) == ["release", "trial"]
    assert trial[student.pk]


def test_wxacode_get_answers_one_scenes_image(fake_wechat):
    student = StudentFactory()
    scene = mini_program_scenes_ensure(students=[student])[student.pk]
    assert wxacode_get(scene=scene, page=PAGE) == fake_wechat.wxacode_images[scene.code]


def test_scene_refused_by_wechat_is_a_clear_error_and_nothing_is_kept(fake_wechat):
    student = StudentFactory()
    scene = mini_program_scenes_ensure(students=[student])[student.pk]
    fake_wechat.wxacode_answers[scene.code] = envelope(ErrCode.SCENE_INVALID)

    with pytest.raises(ApplicationError) as caught:
        wxacode_get(scene=scene, page=PAGE)

    assert caught.value.field == "scene" and caught.value.errcode == 40169
    assert scene.code in str(caught.value.message) and "40169" in str(caught.value.message)
    assert not MiniProgramCode.objects.exists()


def test_page_not_published_is_a_clear_error_and_nothing_is_kept(fake_wechat, settings):
    settings.ADMIN_BIND_PAGE_PATH = "/pages/not-released/index"
    student = StudentFactory()

    with pytest.raises(ApplicationError) as caught:
        admin_bind_wxacodes_get(students=[student])

    assert caught.value.field == "page" and caught.value.errcode == 41030
    assert "pages/not-released/index" in str(caught.value.message) and "41030" in str(caught.value.message)
    assert not MiniProgramCode.objects.exists()


def test_an_unpublished_page_is_fine_for_a_trial_version(fake_wechat, settings):
    settings.ADMIN_BIND_PAGE_PATH = "/pages/not-released/index"
    student = StudentFactory(school=SchoolFactory(miniprogram_state="trial"))
    assert admin_bind_wxacodes_get(students=[student])[student.pk].startswith(b"\x89PNG")


def test_another_refusal_is_an_upstream_error(fake_wechat):
    student = StudentFactory()
    scene = mini_program_scenes_ensure(students=[student])[student.pk]
    fake_wechat.wxacode_answers[scene.code] = envelope(ErrCode.API_UNAUTHORIZED)
    with pytest.raises(UpstreamError) as caught:
        wxacode_get(scene=scene, page=PAGE)
    assert caught.value.errcode == 48001


def test_wechat_unreachable_is_upstream_unavailable():
    student = StudentFactory()  # WECHAT_API_BASE_URL is a closed port
    with pytest.raises(UpstreamUnavailable):
        admin_bind_wxacodes_get(students=[student])
    assert not MiniProgramCode.objects.exists()
    assert MiniProgramScene.objects.filter(student=student).exists()  # kept: reused on the next try


def test_sandbox_draws_a_local_qr_code_asks_wechat_nothing_and_keeps_nothing(fake_wechat, settings):
    settings.WECHAT_SANDBOX = True
    student = StudentFactory()

    images = admin_bind_wxacodes_get(students=[student])

    assert images[student.pk].startswith(b"\x89PNG")
    assert fake_wechat.requests == []
    assert not MiniProgramCode.objects.exists()  # a later run against WeChat asks WeChat
    settings.WECHAT_SANDBOX = False
    assert admin_bind_wxacodes_get(students=[student])[student.pk] != images[student.pk]
    assert fake_wechat.wxacodes_issued == 1
