"""The binding flow end to end, driven through the REST API as the mini-program would (issue 2)."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from contacts.models import BindEvent, ShareLink
from contacts.tasks import expire_share_links
from schools.services import api_client_create
from schools.tests.factories import SchoolFactory, StudentFactory

pytestmark = pytest.mark.django_db

A, B, C, D = (
    "oMama0000000000000000000000A",
    "oBaba0000000000000000000000B",
    "oYeye0000000000000000000000C",
    "oNainai00000000000000000000D",
)


def test_binding_flow_end_to_end(api, parent_api):
    school = SchoolFactory(contact_limit=10, share_link_ttl=24)
    student = StudentFactory(school=school, name="王子涵")
    uid = student.user_id
    mama, baba, yeye, nainai = (parent_api(o) for o in (A, B, C, D))

    # Three parents log in (fake WeChat) and grant scope.voip.
    for client in (mama, baba, yeye):
        r = client.put("/api/v1/me/voip-scope", {"granted": True}, format="json")
        assert r.status_code == 200 and r.json()["granted"] is True

    # Admin binding: 妈妈 becomes the first contact and admin.
    r = mama.post(f"/api/v1/students/{uid}/admin", {"relation": "妈妈"}, format="json")
    assert r.status_code == 200
    assert r.json() == {"type": "success", "errMsg": "bindContact:ok", "userId": uid}
    assert mama.post(f"/api/v1/students/{uid}/admin", {}, format="json").json()["type"] == "binded"

    # Share link: only the admin gets one.
    r = mama.post(f"/api/v1/students/{uid}/share-links", {"user_name": "王子涵"}, format="json")
    assert r.status_code == 201
    link = r.json()
    token = link["token"]
    assert link["path"] == f"/pages/bind-contact/index?token={token}"
    r = api.get(f"/api/v1/share-links/{token}")
    assert r.status_code == 401  # the bind page needs a logged-in parent
    assert baba.get(f"/api/v1/share-links/{token}").json()["user_name"] == "王子涵"

    # Two binds through the link.
    for client, relation in ((baba, "爸爸"), (yeye, "爷爷")):
        r = client.post(f"/api/v1/share-links/{token}/bind", {"relation": relation}, format="json")
        assert (r.status_code, r.json()["type"], r.json()["userId"]) == (200, "success", uid)
    r = baba.post(f"/api/v1/share-links/{token}/bind", {}, format="json")
    assert (r.status_code, r.json()["type"]) == (200, "binded")

    # Contact list as admin (everyone, itself included) and as an ordinary contact (itself only).
    r = mama.get(f"/api/v1/students/{uid}/contacts")
    assert r.status_code == 200
    [entry] = r.json()
    assert (entry["user_id"], entry["is_ad"], entry["openid_list"]) == (uid, 1, [A, B, C])
    [entry] = baba.get(f"/api/v1/students/{uid}/contacts").json()
    assert (entry["is_ad"], entry["openid_list"]) == (0, [B])
    assert nainai.get(f"/api/v1/students/{uid}/contacts").status_code == 404
    assert [s["user_id"] for s in baba.get("/api/v1/me/students").json()] == [uid]

    # Admin transfer: 妈妈 → 爸爸; 妈妈's link is now invalid.
    r = mama.post(f"/api/v1/students/{uid}/admin/transfer", {"new_admin_openid": B}, format="json")
    assert r.status_code == 200 and r.json()["admin_openid"] == B
    nainai.put("/api/v1/me/voip-scope", {"granted": True}, format="json")
    r = nainai.post(f"/api/v1/share-links/{token}/bind", {}, format="json")
    assert (r.status_code, r.json()["type"]) == (404, "invalid")
    assert mama.post(f"/api/v1/students/{uid}/contacts/delete", {"openid_list": [C]}, format="json").status_code == 403

    # Delete: the new admin removes 爷爷; self-unbind: 妈妈 leaves.
    r = baba.post(f"/api/v1/students/{uid}/contacts/delete", {"openid_list": [C]}, format="json")
    assert r.status_code == 200 and r.json()["openid_list"] == [B, A]
    assert baba.delete(f"/api/v1/students/{uid}/contacts/me").status_code == 409  # admin must transfer first
    assert mama.delete(f"/api/v1/students/{uid}/contacts/me").status_code == 204
    assert list(BindEvent.objects.filter(type="cancel").values_list("openid", flat=True).order_by("id")) == [C, A]

    # Limit reached: with a limit of 2, the second new contact is refused.
    school.contact_limit = 2
    school.save()
    token2 = baba.post(f"/api/v1/students/{uid}/share-links", {}, format="json").json()["token"]
    assert yeye.post(f"/api/v1/share-links/{token2}/bind", {}, format="json").json()["type"] == "success"
    r = nainai.post(f"/api/v1/share-links/{token2}/bind", {}, format="json")
    assert (r.status_code, r.json()["type"]) == (409, "overload")

    # Time passes: the link answers expire at once; then the Celery task marks it.
    later = timezone.now() + timedelta(hours=24, seconds=1)
    school.contact_limit = 10
    school.save()
    with mock.patch("django.utils.timezone.now", return_value=later):
        r = nainai.post(f"/api/v1/share-links/{token2}/bind", {}, format="json")
        assert (r.status_code, r.json()["type"]) == (410, "expire")
        assert ShareLink.objects.get(student=student, issued_by__openid=B).state == "active"
        assert expire_share_links.apply().get() == 1
    assert ShareLink.objects.get(student=student, issued_by__openid=B).state == "expired"

    # The vendor's backend reads the contact list through the WeChat-compatible API.
    client, secret = api_client_create(school=school, name="厂商")
    r = api.get("/cgi-bin/token", {"grant_type": "client_credential", "appid": client.appid, "secret": secret})
    assert r.status_code == 200 and r.json()["expires_in"] == 7200
    access_token = r.json()["access_token"]
    r = api.post(f"/wxa/business/getvoipcontactlist?access_token={access_token}", {"user_id": uid}, format="json")
    assert r.json() == {
        "errcode": 0,
        "errmsg": "ok",
        "contact_list": [{"open_id": B, "role": 1}, {"open_id": C, "role": 0}],
    }

    # Every outcome was recorded as a bindContact event.
    assert set(BindEvent.objects.values_list("type", flat=True)) == {
        "success",
        "binded",
        "invalid",
        "cancel",
        "overload",
        "expire",
    }
