"""``POST /wxa/business/getvoipcontactlist`` for device vendors' backends (seed 003 §2.2, REFERENCE.md §5):
``?access_token=`` authentication and the answers; every error answers ``{errcode, errmsg}`` with a 4xx status."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from contacts.models import Contact
from contacts.tests.factories import ContactFactory, ParentFactory
from core.tokens import token_hash
from schools.models import ApiAccessToken
from schools.tests.factories import SchoolFactory, StudentFactory
from schools.tests.vendor import assert_wechat_error

pytestmark = pytest.mark.django_db

CONTACTS = "/wxa/business/getvoipcontactlist"


def post_contacts(api, token, body):
    return api.post(f"{CONTACTS}?access_token={token}", body, format="json")


# --- POST /wxa/business/getvoipcontactlist: authentication -----------------------------------


def test_missing_access_token_is_41001(api):
    assert_wechat_error(api.post(CONTACTS, {"user_id": "any"}, format="json"), 41001, 401)
    assert_wechat_error(post_contacts(api, "", {"user_id": "any"}), 41001, 401)


@pytest.mark.parametrize("token", ["garbage", "x" * 300, "a%00b"], ids=["garbage", "long", "nul-byte"])
def test_invalid_access_token_is_40001(api, access_token, token):
    assert_wechat_error(post_contacts(api, token, {"user_id": "any"}), 40001, 401)


def test_digest_of_a_token_is_not_a_token(api, access_token):
    assert_wechat_error(post_contacts(api, token_hash(access_token), {"user_id": "any"}), 40001, 401)


def test_expired_access_token_is_42001(api, access_token):
    ApiAccessToken.objects.filter(token_hash=token_hash(access_token)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert_wechat_error(post_contacts(api, access_token, {"user_id": "any"}), 42001, 401)


def test_token_of_a_deactivated_client_is_40001(api, vendor, access_token):
    client, _secret = vendor
    client.is_active = False
    client.save(update_fields=["is_active"])

    assert_wechat_error(post_contacts(api, access_token, {"user_id": "any"}), 40001, 401)


def test_token_of_a_client_whose_school_was_deactivated_is_40001(api, vendor, access_token, school):
    """A deactivated school's vendor can no longer get a token (40001 above); the ones it holds stop too."""
    student = StudentFactory(school=school)
    ContactFactory(student=student, role=Contact.Role.ADMIN)
    school.is_active = False
    school.save(update_fields=["is_active"])

    response = post_contacts(api, access_token, {"user_id": student.user_id})

    assert_wechat_error(response, 40001, 401)


def test_access_token_in_the_body_is_not_accepted(api, access_token):
    """WeChat takes ``access_token`` from the query string only."""
    assert_wechat_error(api.post(CONTACTS, {"user_id": "any", "access_token": access_token}, format="json"), 41001, 401)


# --- POST /wxa/business/getvoipcontactlist: answers ------------------------------------------


def test_contact_list_admin_first(api, access_token, school):
    student = StudentFactory(school=school)
    early = ContactFactory(student=student, bound_at=timezone.now() - timedelta(days=3))
    admin = ContactFactory(student=student, role=Contact.Role.ADMIN, bound_via=Contact.BoundVia.ADMIN_BINDING)
    late = ContactFactory(student=student, bound_at=timezone.now() + timedelta(seconds=1))
    ContactFactory(student=StudentFactory(school=school))  # another student's contact: not listed

    response = post_contacts(api, access_token, {"user_id": student.user_id})

    assert response.status_code == 200, response.content
    assert response.json() == {
        "errcode": 0,
        "errmsg": "ok",
        "contact_list": [
            {"open_id": admin.parent.openid, "role": 1},
            {"open_id": early.parent.openid, "role": 0},
            {"open_id": late.parent.openid, "role": 0},
        ],
    }


def test_student_without_contacts_is_errcode_1_with_http_200(api, access_token, school):
    student = StudentFactory(school=school)

    response = post_contacts(api, access_token, {"user_id": student.user_id})

    assert response.status_code == 200
    body = response.json()
    assert body["errcode"] == 1
    assert body["errmsg"]
    assert body.get("contact_list", []) == []


NO_LIST = {"errcode": 1, "errmsg": "user has no contact list", "contact_list": []}


def test_unknown_user_id_is_errcode_1_with_http_200_like_wechat(api, access_token):
    response = post_contacts(api, access_token, {"user_id": "wxfp_unknown"})
    assert (response.status_code, response.json()) == (200, NO_LIST)


def test_inactive_student_is_unknown(api, access_token, school):
    student = StudentFactory(school=school, is_active=False)
    ContactFactory(student=student, role=Contact.Role.ADMIN)

    response = post_contacts(api, access_token, {"user_id": student.user_id})

    assert (response.status_code, response.json()) == (200, NO_LIST)


def test_student_of_another_school_is_unknown_and_its_contacts_never_leak(api, access_token):
    other = StudentFactory(school=SchoolFactory())
    contact = ContactFactory(student=other, role=Contact.Role.ADMIN, parent=ParentFactory(openid="oOtherSchoolParent"))

    response = post_contacts(api, access_token, {"user_id": other.user_id})

    assert (response.status_code, response.json()) == (200, NO_LIST)
    assert contact.parent.openid.encode() not in response.content
    unknown = post_contacts(api, access_token, {"user_id": "wxfp_unknown"})
    assert (response.status_code, response.json()) == (unknown.status_code, unknown.json())


@pytest.mark.parametrize(
    "content_type", ["", "text/plain", "application/x-www-form-urlencoded", "application/octet-stream"]
)
def test_body_is_read_as_json_whatever_the_content_type(access_token, school, content_type):
    student = StudentFactory(school=school)
    admin = ContactFactory(student=student, role=Contact.Role.ADMIN)

    response = Client().generic(
        "POST",
        f"{CONTACTS}?access_token={access_token}",
        json.dumps({"user_id": student.user_id}),
        content_type=content_type,
    )

    assert response.status_code == 200, response.content
    assert response.json()["contact_list"] == [{"open_id": admin.parent.openid, "role": 1}]


def test_body_without_content_type_header_through_drf_client(api, access_token, school):
    student = StudentFactory(school=school)
    admin = ContactFactory(student=student, role=Contact.Role.ADMIN)

    response = api.generic("POST", f"{CONTACTS}?access_token={access_token}", json.dumps({"user_id": student.user_id}))

    assert response.status_code == 200, response.content
    assert response.json()["contact_list"] == [{"open_id": admin.parent.openid, "role": 1}]


@pytest.mark.parametrize(
    "payload",
    [b'{"user_id": ', b"user_id=abc", b"{'user_id': 'abc'}", b"", b"[" * 100_000 + b"]" * 100_000],
    ids=["truncated", "form", "single-quotes", "empty", "deeply-nested"],
)
def test_malformed_json_is_47001(api, access_token, payload):
    response = api.generic("POST", f"{CONTACTS}?access_token={access_token}", payload, content_type="application/json")

    assert_wechat_error(response, 47001, 400)


@pytest.mark.parametrize(
    "payload", [b"[]", b'["wxfp_1"]', b'"wxfp_1"', b"null"], ids=["empty-list", "list", "string", "null"]
)
def test_json_that_is_not_an_object_is_47001(api, access_token, payload):
    response = api.generic("POST", f"{CONTACTS}?access_token={access_token}", payload, content_type="application/json")

    assert_wechat_error(response, 47001, 400)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"userId": "wxfp_1"},
        {"user_id": ""},
        {"user_id": None},
        {"user_id": ["wxfp_1"]},
        {"user_id": "u" * 129},
        {"user_id": "a\u0000b"},
    ],
    ids=["missing", "camel-case", "empty", "null", "list", "129-chars", "nul-byte"],
)
def test_bad_user_id_is_47001_naming_user_id(api, access_token, body):
    response = post_contacts(api, access_token, body)

    result = assert_wechat_error(response, 47001, 400)
    assert result["errmsg"].startswith("user_id:"), result


def test_errors_are_checked_before_the_body(api):
    """No token and a malformed body: authentication comes first (41001)."""
    response = api.generic("POST", CONTACTS, b"{oops", content_type="application/json")

    assert_wechat_error(response, 41001, 401)
