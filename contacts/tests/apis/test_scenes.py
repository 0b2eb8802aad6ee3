"""``GET /api/v1/scenes/{scene}``: the admin-binding page opened from a mini-program code asks which
student its ``scene`` stands for."""

import pytest

from contacts.services.mini_program_codes import mini_program_scenes_ensure
from contacts.tests.factories import ContactFactory
from schools.tests.factories import SchoolFactory, StudentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def student():
    return StudentFactory(
        school=SchoolFactory(name="第一实验小学"), name="王子涵", grade="三年级", class_name="三年级2班"
    )


def scene_of(student) -> str:
    return mini_program_scenes_ensure(students=[student])[student.pk].code


def test_a_parent_reads_the_student_of_a_scene(parent_api, student):
    response = parent_api("oParentScene").get(f"/api/v1/scenes/{scene_of(student)}")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "user_id": student.user_id,
        "name": "王子涵",
        "school": "第一实验小学",
        "class_name": "三年级2班",
    }


def test_any_parent_may_read_it_not_only_a_contact(parent_api, student):
    """The family scans the letter before anyone is bound; another parent's binding changes nothing."""
    ContactFactory(student=student, role=1)
    scene = scene_of(student)
    for openid in ("oFirstParentScene", "oSecondParentScene"):
        response = parent_api(openid).get(f"/api/v1/scenes/{scene}")
        assert response.status_code == 200 and response.json()["user_id"] == student.user_id


def test_without_a_parents_token_it_is_401(api, student):
    assert api.get(f"/api/v1/scenes/{scene_of(student)}").status_code == 401


@pytest.mark.parametrize("scene", ["Unknown12345", "short", "x" * 40, "bad scene!!!"])
def test_an_unknown_or_malformed_scene_is_404_naming_scene(parent_api, student, scene):
    scene_of(student)
    response = parent_api("oParentScene").get(f"/api/v1/scenes/{scene}")
    assert response.status_code == 404
    assert response.json()["field"] == "scene" and response.json()["code"] == "not_found"


def test_a_scene_of_an_inactive_student_or_school_is_404_like_an_unknown_one(parent_api, student):
    scene = scene_of(student)
    client = parent_api("oParentScene")
    unknown = client.get("/api/v1/scenes/Unknown12345").json()

    student.is_active = False
    student.save()
    inactive_student = client.get(f"/api/v1/scenes/{scene}")
    student.is_active = True
    student.save()
    student.school.is_active = False
    student.school.save()
    inactive_school = client.get(f"/api/v1/scenes/{scene}")

    assert (inactive_student.status_code, inactive_student.json()) == (404, unknown)
    assert (inactive_school.status_code, inactive_school.json()) == (404, unknown)


def test_the_scene_is_case_sensitive(parent_api, student):
    scene = scene_of(student)
    other = scene.swapcase()
    if other != scene:
        assert parent_api("oParentScene").get(f"/api/v1/scenes/{other}").status_code == 404
