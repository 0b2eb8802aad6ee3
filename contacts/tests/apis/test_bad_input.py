"""Bad input to every mini-program endpoint (``contacts/urls.py``) answers a 4xx, never a 500.

The JSON ``detail`` names the field at fault (``core.exceptions``) and nothing is written:
the counts of contacts, share links, bind events, audit rows, parents and tokens stay put.
"""

from types import SimpleNamespace

import pytest

from contacts.models import BindEvent, Contact, Parent, ParentToken, ShareLink
from contacts.services.share_links import share_link_create
from contacts.tests.factories import ContactFactory, ParentFactory
from schools.models import AuditLog
from schools.tests.factories import SchoolFactory, StudentFactory

pytestmark = pytest.mark.django_db

MODELS = (Contact, ShareLink, BindEvent, AuditLog, Parent, ParentToken)


def counts() -> dict:
    return {model.__name__: model.objects.count() for model in MODELS}


def contacts_state(student) -> list:
    return list(
        Contact.objects.filter(student=student).order_by("id").values_list("parent__openid", "role", "relation")
    )


@pytest.fixture
def world(parent_api):
    """A student with an admin contact (logged in), an ordinary contact and an active share link."""
    school = SchoolFactory()
    student = StudentFactory(school=school)
    admin = parent_api("oAdminBadInput")
    Parent.objects.filter(pk=admin.parent.pk).update(voip_scope_granted=True)
    ContactFactory(
        student=student, parent=admin.parent, role=Contact.Role.ADMIN, bound_via=Contact.BoundVia.ADMIN_BINDING
    )
    member = ParentFactory()
    ContactFactory(student=student, parent=member)
    admin.parent.refresh_from_db()
    _link, token = share_link_create(parent=admin.parent, user_id=student.user_id)
    return SimpleNamespace(school=school, student=student, admin=admin, member=member, token=token)


def url(template: str, world) -> str:
    return template.format(user_id=world.student.user_id, token=world.token)


def call(client, method, path, body):
    return getattr(client, method)(path, body, format="json")


def assert_4xx_naming(response, field, status=400):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["detail"].startswith(f"{field}:") or body["detail"].startswith(f"{field}."), body
    assert body["field"].split(".")[0] == field, body


# (method, path) of every endpoint that reads a JSON body, with a valid body.
BODY_ENDPOINTS = {
    "voip-scope": ("put", "/api/v1/me/voip-scope", {"granted": True}),
    "admin-bind": ("post", "/api/v1/students/{user_id}/admin", {"relation": "爸爸"}),
    "admin-transfer": ("post", "/api/v1/students/{user_id}/admin/transfer", {"new_admin_openid": "oNobody"}),
    "share-link-create": ("post", "/api/v1/students/{user_id}/share-links", {"user_name": "小明"}),
    "contact-delete": ("post", "/api/v1/students/{user_id}/contacts/delete", {"openid_list": ["oNobody"]}),
    "share-link-bind": ("post", "/api/v1/share-links/{token}/bind", {"relation": "奶奶"}),
}

WRONG_TYPES = [
    ("voip-scope", {"granted": "maybe"}, "granted"),
    ("voip-scope", {"granted": None}, "granted"),
    ("voip-scope", {"granted": [True]}, "granted"),
    ("voip-scope", {}, "granted"),
    ("admin-bind", {"relation": "关" * 17}, "relation"),
    ("admin-bind", {"relation": None}, "relation"),
    ("admin-bind", {"relation": ["爸爸"]}, "relation"),
    ("admin-bind", {"relation": {"name": "爸爸"}}, "relation"),
    ("admin-transfer", {}, "new_admin_openid"),
    ("admin-transfer", {"new_admin_openid": ""}, "new_admin_openid"),
    ("admin-transfer", {"new_admin_openid": ["oX"]}, "new_admin_openid"),
    ("admin-transfer", {"new_admin_openid": "o" * 129}, "new_admin_openid"),
    ("admin-transfer", {"new_admin_openid": "o\u0000X"}, "new_admin_openid"),
    ("share-link-create", {"user_avatar": "not a url"}, "user_avatar"),
    ("share-link-create", {"user_avatar": "javascript:alert(1)"}, "user_avatar"),
    ("share-link-create", {"user_avatar": "https://x.example/" + "a" * 500}, "user_avatar"),
    ("share-link-create", {"user_name": "名" * 65}, "user_name"),
    ("share-link-create", {"user_name": {"a": 1}}, "user_name"),
    ("contact-delete", {}, "openid_list"),
    ("contact-delete", {"openid_list": "x"}, "openid_list"),
    ("contact-delete", {"openid_list": []}, "openid_list"),
    ("contact-delete", {"openid_list": None}, "openid_list"),
    ("contact-delete", {"openid_list": {"o1": True}}, "openid_list"),
    ("contact-delete", {"openid_list": [f"o{i}" for i in range(101)]}, "openid_list"),
    ("contact-delete", {"openid_list": ["o" * 129]}, "openid_list"),
    ("contact-delete", {"openid_list": [["nested"]]}, "openid_list"),
    ("contact-delete", {"openid_list": [None]}, "openid_list"),
    ("share-link-bind", {"relation": "关" * 17}, "relation"),
    ("share-link-bind", {"relation": 3 * [None]}, "relation"),
]


@pytest.mark.parametrize(
    "endpoint, body, field", WRONG_TYPES, ids=[f"{e}-{f}-{i}" for i, (e, _b, f) in enumerate(WRONG_TYPES)]
)
def test_wrong_types_are_400_naming_the_field_and_write_nothing(world, endpoint, body, field):
    method, template, _valid = BODY_ENDPOINTS[endpoint]
    before, state, parent = counts(), contacts_state(world.student), Parent.objects.get(pk=world.admin.parent.pk)

    response = call(world.admin, method, url(template, world), body)

    assert_4xx_naming(response, field)
    assert counts() == before
    assert contacts_state(world.student) == state
    after = Parent.objects.get(pk=world.admin.parent.pk)
    assert (after.voip_scope_granted, after.voip_scope_updated_at) == (
        parent.voip_scope_granted,
        parent.voip_scope_updated_at,
    )


def test_contact_delete_accepts_exactly_100_openids(world):
    """The 101-item rejection above is the limit, not a blanket refusal: 100 ids reach the service."""
    body = {"openid_list": [world.member.openid] + [f"oMissing{i}" for i in range(99)]}

    response = world.admin.post(url("/api/v1/students/{user_id}/contacts/delete", world), body, format="json")

    assert response.status_code == 200, response.content
    assert world.member.openid not in response.json()["openid_list"]
    assert Contact.objects.get(parent=world.member, student=world.student).state == "removing"


MALFORMED = {
    "truncated": b'{"relation": ',
    "single-quotes": b"{'granted': true}",
    "trailing-comma": b'{"openid_list": ["a",]}',
    "nan": b'{"granted": NaN}',
    "not-utf8": b'{"relation": "\xff\xfe"}',
    "deeply-nested": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("payload", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS.keys())
def test_malformed_json_is_400_and_writes_nothing(world, endpoint, payload):
    method, template, _valid = BODY_ENDPOINTS[endpoint]
    before = counts()

    response = world.admin.generic(method.upper(), url(template, world), payload, content_type="application/json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "parse_error"
    assert counts() == before


@pytest.mark.parametrize(
    "payload", [b"[]", b'[{"granted": true}]', b'"text"', b"42", b"null"], ids=["empty", "list", "str", "num", "null"]
)
@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS.keys())
def test_json_that_is_not_an_object_is_400_and_writes_nothing(world, endpoint, payload):
    method, template, _valid = BODY_ENDPOINTS[endpoint]
    before = counts()

    response = world.admin.generic(method.upper(), url(template, world), payload, content_type="application/json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert counts() == before


@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS.keys())
def test_form_encoded_body_is_415_and_writes_nothing(world, endpoint):
    method, template, valid = BODY_ENDPOINTS[endpoint]
    before = counts()

    response = getattr(world.admin, method)(url(template, world), valid)  # multipart, not JSON

    assert response.status_code == 415, response.content
    assert counts() == before


# Every endpoint under /students/{user_id}/, with a body that would be valid for a known student.
STUDENT_ENDPOINTS = {
    "admin-bind": ("post", "/api/v1/students/{user_id}/admin", {"relation": "爸爸"}),
    "admin-transfer": ("post", "/api/v1/students/{user_id}/admin/transfer", {"new_admin_openid": "MEMBER"}),
    "share-link-create": ("post", "/api/v1/students/{user_id}/share-links", {}),
    "contact-list": ("get", "/api/v1/students/{user_id}/contacts", None),
    "contact-delete": ("post", "/api/v1/students/{user_id}/contacts/delete", {"openid_list": ["MEMBER"]}),
    "contact-unbind-self": ("delete", "/api/v1/students/{user_id}/contacts/me", None),
}

UNKNOWN_USER_IDS = {
    "unknown": "wxfp_does_not_exist",
    "too-long": "u" * 300,
    "non-ascii": "学生-一号",
    "nul-byte": "wxfp%00x",
}


@pytest.mark.parametrize("user_id", UNKNOWN_USER_IDS.values(), ids=UNKNOWN_USER_IDS.keys())
@pytest.mark.parametrize("endpoint", STUDENT_ENDPOINTS.keys())
def test_unknown_user_id_is_404_naming_user_id_and_writes_nothing(world, endpoint, user_id):
    method, template, body = STUDENT_ENDPOINTS[endpoint]
    if body and "new_admin_openid" in body:
        body = {"new_admin_openid": world.member.openid}
    if body and "openid_list" in body:
        body = {"openid_list": [world.member.openid]}
    before, state = counts(), contacts_state(world.student)

    response = call(world.admin, method, template.format(user_id=user_id), body)

    assert_4xx_naming(response, "user_id", status=404)
    assert counts() == before
    assert contacts_state(world.student) == state


@pytest.mark.parametrize("endpoint", STUDENT_ENDPOINTS.keys())
def test_student_of_which_the_caller_is_not_a_contact_is_404_naming_user_id(world, endpoint, parent_api):
    method, template, body = STUDENT_ENDPOINTS[endpoint]
    if body and "new_admin_openid" in body:
        body = {"new_admin_openid": world.member.openid}
    if body and "openid_list" in body:
        body = {"openid_list": [world.member.openid]}
    other_student = StudentFactory(school=world.school)
    ContactFactory(student=other_student, role=Contact.Role.ADMIN, bound_via=Contact.BoundVia.ADMIN_BINDING)
    before, state = counts(), contacts_state(other_student)

    response = call(world.admin, method, template.format(user_id=other_student.user_id), body)

    if endpoint == "admin-bind":  # a student with an admin already: the documented 409, not a leak of its contacts
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "admin_exists"
    else:
        assert_4xx_naming(response, "user_id", status=404)
    assert counts() == before
    assert contacts_state(other_student) == state


def test_inactive_student_is_404_naming_user_id(world):
    world.student.is_active = False
    world.student.save(update_fields=["is_active"])

    response = world.admin.get(url("/api/v1/students/{user_id}/contacts", world))

    assert_4xx_naming(response, "user_id", status=404)


def test_a_deletion_report_naming_only_openids_not_bound_changes_nothing(world):
    """The plugin already deleted at WeChat; a report naming openids the portal lacks (or a repeat)
    is not an error, and changes nothing (seed 003 §2.3)."""
    before, state = counts(), contacts_state(world.student)

    response = world.admin.post(
        url("/api/v1/students/{user_id}/contacts/delete", world), {"openid_list": ["oNotBound"]}, format="json"
    )

    assert response.status_code == 200, response.content
    assert world.member.openid in response.json()["openid_list"]
    assert counts() == before
    assert contacts_state(world.student) == state


def test_admin_deleting_itself_is_400_naming_openid_list(world):
    before, state = counts(), contacts_state(world.student)

    response = world.admin.post(
        url("/api/v1/students/{user_id}/contacts/delete", world),
        {"openid_list": [world.admin.parent.openid]},
        format="json",
    )

    assert_4xx_naming(response, "openid_list")
    assert counts() == before
    assert contacts_state(world.student) == state


def test_transfer_to_a_non_contact_is_404_naming_new_admin_openid(world):
    before, state = counts(), contacts_state(world.student)

    response = world.admin.post(
        url("/api/v1/students/{user_id}/admin/transfer", world), {"new_admin_openid": "oNotBound"}, format="json"
    )

    assert_4xx_naming(response, "new_admin_openid", status=404)
    assert counts() == before
    assert contacts_state(world.student) == state


def test_transfer_to_oneself_is_400_naming_new_admin_openid(world):
    before, state = counts(), contacts_state(world.student)

    response = world.admin.post(
        url("/api/v1/students/{user_id}/admin/transfer", world),
        {"new_admin_openid": world.admin.parent.openid},
        format="json",
    )

    assert_4xx_naming(response, "new_admin_openid")
    assert counts() == before
    assert contacts_state(world.student) == state


UNKNOWN_TOKENS = {"unknown": "no-such-token", "long": "t" * 500, "nul-byte": "abc%00def"}


@pytest.mark.parametrize("token", UNKNOWN_TOKENS.values(), ids=UNKNOWN_TOKENS.keys())
def test_unknown_share_link_token_detail_is_404_naming_token(world, token):
    before = counts()

    response = world.admin.get(f"/api/v1/share-links/{token}")

    assert_4xx_naming(response, "token", status=404)
    assert counts() == before


@pytest.mark.parametrize("token", UNKNOWN_TOKENS.values(), ids=UNKNOWN_TOKENS.keys())
def test_unknown_share_link_token_bind_is_invalid_and_binds_nobody(world, parent_api, token):
    newcomer = parent_api("oNewcomer")
    Parent.objects.filter(pk=newcomer.parent.pk).update(voip_scope_granted=True)
    before = counts()

    response = newcomer.post(f"/api/v1/share-links/{token}/bind", {"relation": "奶奶"}, format="json")

    # seed 003 §2.5: the outcome is the bindContact event ``invalid``, recorded as a BindEvent.
    assert response.status_code == 404, response.content
    assert response.json() == {
        "allowed": False,
        "type": "invalid",
        "errMsg": "bindContact:fail the share link is not valid",
        "userId": "",
    }
    assert not Contact.objects.filter(parent=newcomer.parent).exists()
    assert counts() == {**before, "BindEvent": before["BindEvent"] + 1}
    assert BindEvent.objects.get(openid="oNewcomer").type == BindEvent.Type.INVALID


# Every endpoint that needs a parent: an unknown bearer token is 401 and writes nothing.
ALL_AUTHENTICATED = [
    ("post", "/api/v1/auth/logout", None),
    ("put", "/api/v1/me/voip-scope", {"granted": True}),
    ("get", "/api/v1/me/students", None),
    *STUDENT_ENDPOINTS.values(),
    ("get", "/api/v1/share-links/{token}", None),
    ("post", "/api/v1/share-links/{token}/bind", {"relation": "奶奶"}),
]


@pytest.mark.parametrize("header", ["Bearer not-a-token", None], ids=["unknown-token", "no-token"])
@pytest.mark.parametrize(
    "method, template, body", ALL_AUTHENTICATED, ids=[f"{m}-{t}" for m, t, _b in ALL_AUTHENTICATED]
)
def test_unknown_bearer_token_is_401_and_writes_nothing(world, api, method, template, body, header):
    if header:
        api.credentials(HTTP_AUTHORIZATION=header)
    before, state = counts(), contacts_state(world.student)

    response = call(api, method, url(template, world), body)

    assert response.status_code == 401, response.content
    assert "detail" in response.json()
    assert counts() == before
    assert contacts_state(world.student) == state
