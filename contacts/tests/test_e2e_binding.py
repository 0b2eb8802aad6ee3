"""The binding flow end to end, as the mini-program drives it: the portal's REST API, the plugin at
the fake WeChat, and the WeChat check each report sets off (seed 003 §2; README "Mini-program
integration")."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from contacts.models import BindEvent, Contact, ShareLink
from contacts.tasks import expire_share_links
from schools.services.api_clients import api_client_create
from schools.tests.factories import SchoolFactory, StudentFactory

pytestmark = pytest.mark.django_db

A, B, C, D, E = (
    "oMama0000000000000000000000A",
    "oBaba0000000000000000000000B",
    "oYeye0000000000000000000000C",
    "oNainai00000000000000000000D",
    "oGugu000000000000000000000E",
)
PLUGIN_PATH = "plugin-private://wxf830863afde621eb/pages/bind-contact/bind-contact?token=wx-share"


@pytest.fixture
def report(django_capture_on_commit_callbacks):
    """``report(client, path, body)``: POST a report; the WeChat check it queues runs (eagerly) on commit."""

    def post(client, path, body):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(path, body, format="json")
        assert response.status_code == 200, response.content
        return response

    return post


def states(student):
    return dict(Contact.objects.filter(student=student).values_list("parent__openid", "state"))


def test_binding_flow_end_to_end(api, parent_api, fake_wechat, report, django_capture_on_commit_callbacks):
    school = SchoolFactory(contact_limit=10, share_link_ttl=24)
    student = StudentFactory(school=school, name="王子涵")
    uid = student.user_id
    mama, baba, yeye, nainai, gugu = (parent_api(o) for o in (A, B, C, D, E))

    def bind_event(client, type_, err_msg="bindContact:ok"):
        return report(client, "/api/v1/bind-events", {"type": type_, "errMsg": err_msg, "userId": uid})

    # Parents log in and grant scope.voip (wx.authorize: WeChat records it, the portal is told).
    for client, openid in ((mama, A), (baba, B), (yeye, C)):
        fake_wechat.scope.add(openid)
        r = client.put("/api/v1/me/voip-scope", {"granted": True}, format="json")
        assert r.status_code == 200 and r.json()["granted"] is True

    # Admin binding: the portal allows and reserves; the plugin binds; the report is checked at WeChat.
    r = mama.post(f"/api/v1/students/{uid}/admin", {"relation": "妈妈"}, format="json")
    assert (r.status_code, r.json()) == (200, {"allowed": True, "userId": uid, "state": "pending"})
    assert fake_wechat.plugin_bind_admin(uid, A) == "success"
    assert bind_event(mama, "success").json() == {"userId": uid, "state": "pending"}
    assert "/wxa/business/getvoipcontactlist" in fake_wechat.paths()  # the report was checked at WeChat
    assert states(student) == {A: "confirmed"}
    r = mama.post(f"/api/v1/students/{uid}/admin", {}, format="json")
    assert (r.status_code, r.json()["allowed"], r.json()["type"]) == (200, False, "binded")

    # Share link: the admin's mini-program sends the plugin's page (getBindContactPath).
    r = mama.post(f"/api/v1/students/{uid}/share-links", {"plugin_path": PLUGIN_PATH}, format="json")
    assert r.status_code == 201
    token = r.json()["token"]
    assert r.json()["path"] == f"/pages/bind-contact/index?token={token}"
    assert api.get(f"/api/v1/share-links/{token}").status_code == 401  # the bind page needs a logged-in parent
    detail = baba.get(f"/api/v1/share-links/{token}").json()
    assert (detail["user_name"], detail["plugin_path"]) == ("王子涵", PLUGIN_PATH)

    # Two binds: the portal first, then the plugin's page, then the report.
    for client, openid, relation in ((baba, B, "爸爸"), (yeye, C, "爷爷")):
        r = client.post(f"/api/v1/share-links/{token}/bind", {"relation": relation}, format="json")
        assert (r.status_code, r.json()["allowed"], r.json()["userId"]) == (200, True, uid)
        assert fake_wechat.plugin_bind_shared(uid, openid, shared_by=A) == "success"
        bind_event(client, "success")
    assert states(student) == {A: "confirmed", B: "confirmed", C: "confirmed"}
    r = baba.post(f"/api/v1/share-links/{token}/bind", {}, format="json")
    assert (r.status_code, r.json()["type"]) == (200, "binded")

    # A report is never trusted blindly: 奶奶 says success, but WeChat never bound her.
    fake_wechat.scope.add(D)
    nainai.put("/api/v1/me/voip-scope", {"granted": True}, format="json")
    assert nainai.post(f"/api/v1/share-links/{token}/bind", {}, format="json").json()["allowed"] is True
    bind_event(nainai, "success")
    assert states(student)[D] == "pending"  # not served; released if WeChat never has it
    # 姑姑 was bound at WeChat without asking the portal: the next check records her.
    fake_wechat.contacts[uid][E] = 0
    bind_event(nainai, "cancel", "bindContact:ok the contact has been unbound")
    assert Contact.objects.get(student=student, parent__openid=E).bound_via == Contact.BoundVia.WECHAT

    # Contact list as admin (everyone, itself included) and as an ordinary contact (itself only).
    [entry] = mama.get(f"/api/v1/students/{uid}/contacts").json()
    assert (entry["user_id"], entry["is_ad"], entry["openid_list"][:3]) == (uid, 1, [A, B, C])
    [entry] = baba.get(f"/api/v1/students/{uid}/contacts").json()
    assert (entry["is_ad"], entry["openid_list"]) == (0, [B])
    assert parent_api("oStranger").get(f"/api/v1/students/{uid}/contacts").status_code == 404
    assert [s["user_id"] for s in baba.get("/api/v1/me/students").json()] == [uid]

    # Admin transfer: the plugin (transerAdmin), then the report; WeChat's list makes 爸爸 admin.
    fake_wechat.plugin_transfer(uid, A, B)
    r = report(mama, f"/api/v1/students/{uid}/admin/transfer", {"new_admin_openid": B})
    assert Contact.objects.get(student=student, role=Contact.Role.ADMIN).parent.openid == B
    assert ShareLink.objects.get(token_hash__isnull=False, issued_by__openid=A).state == "revoked"
    r = nainai.post(f"/api/v1/share-links/{token}/bind", {}, format="json")
    assert (r.status_code, r.json()["type"]) == (404, "invalid")
    assert mama.post(f"/api/v1/students/{uid}/contacts/delete", {"openid_list": [C]}, format="json").status_code == 403

    # Delete: the new admin's plugin deletes 爷爷, the report stops serving him, WeChat's list completes it.
    assert fake_wechat.plugin_delete(uid, B, [C]) == "cancel"
    r = report(baba, f"/api/v1/students/{uid}/contacts/delete", {"openid_list": [C]})
    assert C not in r.json()["openid_list"] and C not in states(student)
    # Self-unbind: 妈妈 leaves; only the admin can delete at WeChat, so 爸爸's mini-program is asked to.
    assert baba.delete(f"/api/v1/students/{uid}/contacts/me").status_code == 409  # admin must transfer first
    with django_capture_on_commit_callbacks(execute=True):
        assert mama.delete(f"/api/v1/students/{uid}/contacts/me").status_code == 204
    assert states(student)[A] == "removing"
    assert baba.get("/api/v1/me/pending-actions").json() == [
        {"user_id": uid, "delete_openid_list": [A], "new_admin_openid": None}
    ]
    fake_wechat.plugin_delete(uid, B, [A])
    report(baba, f"/api/v1/students/{uid}/contacts/delete", {"openid_list": [A]})
    assert A not in states(student) and baba.get("/api/v1/me/pending-actions").json() == []
    assert list(BindEvent.objects.filter(type="cancel", source="portal").values_list("openid", flat=True)) == [A, C]

    # Limit reached: with a limit of 3 (爸爸, 姑姑 and 奶奶's reservation), the next one is refused.
    school.contact_limit = 3
    school.save()
    token2 = baba.post(f"/api/v1/students/{uid}/share-links", {"plugin_path": PLUGIN_PATH}, format="json").json()
    r = yeye.post(f"/api/v1/share-links/{token2['token']}/bind", {}, format="json")
    assert (r.status_code, r.json()["type"]) == (409, "overload")

    # Time passes: the link answers expire at once; then the Celery task marks it.
    later = timezone.now() + timedelta(hours=24, seconds=1)
    school.contact_limit = 10
    school.save()
    with mock.patch("django.utils.timezone.now", return_value=later):
        r = yeye.post(f"/api/v1/share-links/{token2['token']}/bind", {}, format="json")
        assert (r.status_code, r.json()["type"]) == (410, "expire")
        assert ShareLink.objects.get(student=student, issued_by__openid=B).state == "active"
        assert expire_share_links.apply().get() == 1
    assert ShareLink.objects.get(student=student, issued_by__openid=B).state == "expired"

    # The vendor's backend reads the contacts devices are served: 奶奶's unconfirmed reservation is not.
    client, secret = api_client_create(school_ids=[school.pk], name="厂商")
    r = api.get("/cgi-bin/token", {"grant_type": "client_credential", "appid": client.appid, "secret": secret})
    assert r.status_code == 200 and r.json()["expires_in"] == 7200
    access_token = r.json()["access_token"]
    r = api.post(f"/wxa/business/getvoipcontactlist?access_token={access_token}", {"user_id": uid}, format="json")
    assert r.json() == {
        "errcode": 0,
        "errmsg": "ok",
        "contact_list": [{"open_id": B, "role": 1}, {"open_id": E, "role": 0}],
    }
    assert fake_wechat.contacts[uid] == {B: 1, E: 0}  # the portal's served list is WeChat's

    # Every outcome was recorded as a bindContact event, the plugin's reports and the portal's refusals.
    assert set(BindEvent.objects.values_list("type", "source")) == {
        ("success", "plugin"),
        ("cancel", "plugin"),
        ("cancel", "portal"),
        ("binded", "portal"),
        ("invalid", "portal"),
        ("overload", "portal"),
        ("expire", "portal"),
    }
