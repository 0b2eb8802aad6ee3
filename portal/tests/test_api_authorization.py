"""Who may do what through the APIs: every endpoint × method × actor has a declared outcome (issue 9 §2).

OWASP API Top 10: broken object-level authorization (a parent or vendor naming another student's,
parent's, device's or school's objects), broken function-level authorization (an ordinary contact
doing the admin's work, staff or vendors using the parents' API, parents the vendors'), broken
authentication (expired, revoked, crossed credentials) and mass assignment (fields an attacker
adds to a body).

- ``RULES`` declares, for every URL pattern of the parents' API (``/api/v1/``), the vendors'
  device API (``/api/v1/device/``) and the WeChat-compatible API (``/cgi-bin/token``,
  ``/wxa/business/getvoipcontactlist``), and for every HTTP method its view allows, what each
  actor of ``ACTORS`` gets. The URL patterns and methods are read from the resolver and the view
  classes: one without a rule fails ``test_every_endpoint_and_method_has_a_rule`` and its own
  matrix case, naming it, so no endpoint ships without one. HEAD follows GET's rule (without a
  body); OPTIONS is DRF's metadata, for whoever the endpoint authenticates (``rule_for``).
- Refusals answer 401 (not authenticated), 403 (a role the endpoint has, without the right) or
  404 ("not yours" answers like "missing"); the WeChat-compatible endpoints answer ``{errcode,
  errmsg}``. Each answer may change only the tables its outcome declares (``changes``): a refused
  request changes nothing. Allowed reads show only what the actor may see (``check``).
- ``MASS_ASSIGNMENT`` sends every write endpoint the fields an attacker would add; ``ATTACKS`` names
  other students', parents', devices' and schools' objects in bodies and query strings.

One world for the module (``world``), built once; every request runs in a savepoint rolled back
after it, so the actors see the same world.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from calls.models import CallRecord, DeviceAuthorization
from calls.tests.factories import DeviceAuthorizationFactory, make_call
from contacts.authentication import ParentTokenAuthentication
from contacts.models import Contact, MiniProgramScene, Parent, ParentToken, ShareLink
from contacts.permissions import IsParent
from contacts.services.parents import parent_token_revoke
from contacts.tests.factories import ContactFactory
from schools.authentication import AccessTokenAuthentication, IsApiClient
from schools.models import ApiAccessToken, CallMode, StaffMembership
from schools.services.events import event_emit, outbox_positions_assign
from schools.tests.factories import (
    ApiClientFactory,
    DeviceFactory,
    DeviceGroupFactory,
    SchoolFactory,
    StaffMembershipFactory,
    StudentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# --- The endpoints --------------------------------------------------------------------------------

# Not part of the APIs: the staff portal (its own tests, test_multitenancy.py), the language
# switcher, the public OpenAPI schema and Swagger UI (test_docs.py), and the public health probes
# (test_operations.py; they answer no one's data).
EXCLUDED_PREFIXES = ("admin/", "i18n/", "api/schema/", "api/docs/", "health/")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def api_endpoints() -> dict[str, type]:
    """``{route: view class}`` of every URL pattern outside ``EXCLUDED_PREFIXES``, included URLconfs
    joined (``api/v1/students/<str:user_id>/contacts``; the catch-all is ``^api/``)."""
    found = {}

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith(EXCLUDED_PREFIXES):
                continue
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            else:
                found[route] = pattern.callback.view_class

    walk(get_resolver().url_patterns, "")
    return found


def view_methods(view_class) -> list[str]:
    """The HTTP methods the view answers (Django's ``View._allowed_methods``: HEAD comes with GET)."""
    methods = {m.upper() for m in view_class.http_method_names if hasattr(view_class, m)}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


ENDPOINTS = api_endpoints()
ENDPOINT_METHODS = [(route, method) for route, view in sorted(ENDPOINTS.items()) for method in view_methods(view)]

# --- The actors -----------------------------------------------------------------------------------

ACTORS = (
    "anonymous",
    "admin_contact",  # the student's admin contact (role 1)
    "ordinary_contact",  # an ordinary contact of the student (role 0)
    "same_school_parent",  # admin of another student of the same school
    "other_school_parent",  # admin of a student of another school
    "expired_parent_token",  # the admin contact, with an expired bearer token
    "revoked_parent_token",  # the admin contact, with a logged-out bearer token
    "school_client",  # the vendor's API client granted the student's school
    "other_school_client",  # an API client granted another school only
    "expired_access_token",  # the school's client, with an expired access_token
    "inactive_client",  # a deactivated API client of the school, with a fresh access_token
    "staff_viewer",  # the school's read-only staff, logged into the admin
    "staff_admin",  # the school's administrator, logged into the admin
    "superuser",  # logged into the admin
    "crossed_credentials",  # the admin's bearer token as access_token, the client's access_token as bearer
)
PARENTS = ("admin_contact", "ordinary_contact", "same_school_parent", "other_school_parent")
CLIENTS = ("school_client", "other_school_client")


@dataclass(frozen=True)
class Outcome:
    """What an actor gets: the status, the error's ``code`` (parents' API) or ``errcode`` (WeChat's),
    a ``check`` of the body (``check(world, actor, body)``, asserts; it may read the database, whose
    changes are still visible), and the tables (``app.Model``) the request may change."""

    status: int
    code: str | None = None
    errcode: int | None = None
    check: Callable | None = None
    changes: frozenset = frozenset()


def ok(status=200, *, check=None, changes=(), errcode=None) -> Outcome:
    return Outcome(status, check=check, changes=frozenset(changes), errcode=errcode)


def refused(status, code=None, *, errcode=None) -> Outcome:
    return Outcome(status, code=code, errcode=errcode)


# The parents' API (bearer token) to everyone without a valid parent token.
NOT_A_PARENT = {
    "anonymous": refused(401, "not_authenticated"),
    "expired_parent_token": refused(401, "authentication_failed"),
    "revoked_parent_token": refused(401, "authentication_failed"),
    "crossed_credentials": refused(401, "authentication_failed"),
    **dict.fromkeys(
        (
            "school_client",
            "other_school_client",
            "expired_access_token",
            "inactive_client",
            "staff_viewer",
            "staff_admin",
            "superuser",
        ),
        refused(401, "not_authenticated"),
    ),
}
# The vendors' API (access_token) to everyone without a valid access_token: WeChat's errcodes.
NOT_A_CLIENT = {
    **dict.fromkeys(
        (
            "anonymous",
            *PARENTS,
            "expired_parent_token",
            "revoked_parent_token",
            "staff_viewer",
            "staff_admin",
            "superuser",
        ),
        refused(401, errcode=41001),
    ),
    "expired_access_token": refused(401, errcode=42001),
    "inactive_client": refused(401, errcode=40001),
    "crossed_credentials": refused(401, errcode=40001),
}


@dataclass(frozen=True)
class Req:
    path: str
    query: dict = field(default_factory=dict)
    body: object = None


@dataclass(frozen=True)
class Rule:
    """``kind``: who the endpoint authenticates (``parent``, ``client``, ``public``, ``nobody``);
    ``request(world) -> Req``; ``outcomes``: actor → Outcome; ``wechat``: needs the fake WeChat."""

    kind: str
    request: Callable
    outcomes: dict
    wechat: bool = False


def parent_rule(request, *, admin, ordinary, strangers=None, same_school=None, other_school=None, wechat=False):
    outcomes = {
        **NOT_A_PARENT,
        "admin_contact": admin,
        "ordinary_contact": ordinary,
        "same_school_parent": same_school or strangers,
        "other_school_parent": other_school or strangers,
    }
    return Rule("parent", request, outcomes, wechat)


def any_parent_rule(request, outcome, wechat=False):
    return parent_rule(request, admin=outcome, ordinary=outcome, strangers=outcome, wechat=wechat)


def client_rule(request, *, client, other_client):
    return Rule("client", request, {**NOT_A_CLIENT, "school_client": client, "other_school_client": other_client})


def public_rule(request, outcome, wechat=False):
    return Rule("public", request, dict.fromkeys(ACTORS, outcome), wechat)


# --- Checks of what an allowed answer shows -------------------------------------------------------


def contact_of(w, actor, student):
    return Contact.objects.filter(student=student, parent=w.parent[actor]).first()


def check_contact_list(w, actor, body):
    [entry] = body
    everyone = set(Contact.objects.filter(student=w.student).values_list("parent__openid", flat=True))
    expected = everyone if actor == "admin_contact" else {w.parent[actor].openid}
    assert entry["user_id"] == w.student.user_id
    assert set(entry["openid_list"]) == expected, entry
    assert {c["openid"] for c in entry["contacts"]} == expected, entry
    assert entry["is_ad"] == int(actor == "admin_contact")


def check_my_students(w, actor, body):
    expected = {"admin_contact": w.student, "ordinary_contact": w.student}.get(actor) or w.own_student[actor]
    assert [s["user_id"] for s in body] == [expected.user_id], body  # the inactive student left out


def check_call_history(w, actor, body):
    expected = {"admin_contact": {w.room_admin, w.room_ordinary}, "ordinary_contact": {w.room_ordinary}}[actor]
    assert {c["roomId"] for c in body["results"]} == expected, body
    assert body["count"] == len(expected)


def check_pending_actions(w, actor, body):
    if actor == "admin_contact":
        expected = [{"user_id": w.student.user_id, "delete_openid_list": [w.leaving.openid], "new_admin_openid": None}]
    else:
        expected = []
    assert body == expected


def check_own_authorizations(w, actor, body):
    records = DeviceAuthorization.objects.filter(parent=w.parent[actor]).select_related("device", "group")
    expected = sorted((r.group.group_id, "") if r.group_id else (r.device.sn, r.device.model_id) for r in records)
    shown = sorted((i["group_id"], "") if "group_id" in i else (i["sn"], i["model_id"]) for i in body["list"])
    assert shown == expected, body


def check_voip_scope(w, actor, body):
    assert body["openid"] == w.parent[actor].openid


def check_scope_put(w, actor, body):
    check_voip_scope(w, actor, body)
    assert set(Parent.objects.filter(voip_scope_granted=False)) == {w.parent[actor]}


def check_logout(w, actor, body):
    revoked = set(ParentToken.objects.filter(revoked_at__isnull=False).exclude(pk=w.revoked_token.pk))
    assert revoked == {w.token_row[actor]}


def check_keys(*keys):
    def check(w, actor, body):
        assert set(body) == set(keys), body

    return check


def check_scene(w, actor, body):
    assert body == {
        "user_id": w.student.user_id,
        "name": w.student.name,
        "school": w.school.name,
        "class_name": w.student.class_name,
    }


def check_binded(w, actor, body):
    assert body == {"allowed": False, "type": "binded", "errMsg": body.get("errMsg"), "userId": w.student.user_id}


def check_share_bind_allowed(w, actor, body):
    assert body == {"allowed": True, "userId": w.student.user_id, "state": "pending"}
    contact = contact_of(w, actor, w.student)
    assert (contact.role, contact.state, contact.share_link_id) == (0, "pending", w.link.pk)


def check_bind_event(w, actor, body):
    own = contact_of(w, actor, w.student)
    assert body == {"userId": w.student.user_id, "state": own.state if own else None}


def check_share_link_created(w, actor, body):
    link = ShareLink.objects.get(ShareLink.token_q(body["token"]))
    assert (link.student, link.issued_by) == (w.student, w.admin)


def check_transfer(w, actor, body):
    assert body == {"user_id": w.student.user_id, "admin_openid": w.ordinary.openid, "done": False}
    assert Contact.objects.get(student=w.student, parent=w.ordinary).admin_requested_at is not None
    assert Contact.objects.get(student=w.student, role=1).parent == w.admin


def check_deleted(w, actor, body):
    assert body == {"user_id": w.student.user_id, "openid_list": [w.admin.openid]}
    assert Contact.objects.get(student=w.student, parent=w.ordinary).state == "removing"


def check_left(w, actor, body):
    assert Contact.objects.get(student=w.student, parent=w.parent[actor]).state == "removing"
    assert Contact.objects.get(student=w.student, parent=w.admin).state == "confirmed"


def check_call_order(w, actor, body):
    assert body == {"user_id": w.student.user_id, "openid_list": [w.ordinary.openid, w.admin.openid]}


def check_authorization_recorded(w, actor, body):
    assert body == {"sn": w.spare_device.sn, "model_id": w.spare_device.model_id, "status": 1}
    assert DeviceAuthorization.objects.get(device=w.spare_device).parent == w.parent[actor]


def check_authorizations_replaced(w, actor, body):
    assert body == {"list": [{"group_id": w.group.group_id, "status": 1}]}
    assert list(DeviceAuthorization.objects.filter(parent=w.parent[actor]).values_list("group", flat=True)) == [
        w.group.pk
    ]
    # Nobody else's records are touched.
    assert DeviceAuthorization.objects.exclude(parent=w.parent[actor]).count() == len(
        [p for p in (w.admin, w.other_school_parent) if p != w.parent[actor]]
    )


def check_login(w, actor, body):
    assert body["openid"] == NEWCOMER and body["token"]


def check_sn_ticket(w, actor, body):
    assert (body["sn"], body["model_id"]) == (w.device.sn, w.device.model_id) and body["sn_ticket"]


def check_iot(w, actor, body):
    statuses = [(c["open_id"], c["status"]) for c in body["contact_list"]]
    assert statuses == [(w.admin.openid, 1), (w.ordinary.openid, 0), (w.other_school_parent.openid, 0)]


def check_call_plan(w, actor, body):
    assert body["user_id"] == w.student.user_id
    assert [c["open_id"] for c in body["contact_list"]] == [w.admin.openid]  # the one who authorized the phone


def check_own_events(w, actor, body):
    own = w.event if actor == "school_client" else w.other_event
    assert [e["event_id"] for e in body["events"]] == [str(own.event_id)]
    assert body["next_cursor"] == own.position and body["has_more"] is False


def check_voip_contact_list(w, actor, body):
    assert sorted(c["open_id"] for c in body["contact_list"]) == sorted([w.admin.openid, w.ordinary.openid])


def check_empty_contact_list(w, actor, body):
    assert body["contact_list"] == []


def check_call_event(w, actor, body):
    record = CallRecord.objects.get(room_id="room-new")
    assert (record.school, record.student, record.device, record.parent) == (w.school, w.student, w.device, w.admin)


# --- The rules ------------------------------------------------------------------------------------

NEWCOMER = "oNewcomerLoggingIn000000001"
LOGIN_CODE = "code-newcomer"


def students(suffix):
    return lambda w: Req(f"/api/v1/students/{w.student.user_id}/{suffix}")


def students_of(student, suffix, body):
    """A request to ``/api/v1/students/{user_id}/{suffix}`` of the world's ``student`` with ``body(world)``."""
    return lambda w: Req(f"/api/v1/students/{getattr(w, student).user_id}/{suffix}", body=body(w))


def device_body(w, **more):
    return {"sn": w.device.sn, "model_id": w.device.model_id, **more}


NOT_YOURS = refused(404, "not_found")
NOT_ADMIN = refused(403, "not_admin")
BINDED = ok(check=check_binded, changes={"contacts.BindEvent"})
CONTACTS_AUDITED = {"contacts.Contact", "schools.AuditLog"}
AUTHORIZATIONS = {"calls.DeviceAuthorization", "calls.DeviceAuthorizationHistory"}
# The transactional outbox (schools.services.events) is written with the change it reports: a
# request that may change an event's source may also write its event and deliveries, no other may.
EVENT_SOURCES = {"schools.AuditLog", "contacts.BindEvent", "calls.CallRecord"}
OUTBOX = {"schools.OutboxEvent", "schools.WebhookDelivery"}


def may_change(outcome) -> set[str]:
    return outcome.changes | (OUTBOX if outcome.changes & EVENT_SOURCES else set())


RULES = {
    # --- parents' sessions (contacts.apis.parents)
    ("api/v1/auth/login", "POST"): public_rule(
        lambda w: Req("/api/v1/auth/login", body={"code": LOGIN_CODE}),
        ok(check=check_login, changes={"contacts.Parent", "contacts.ParentToken"}),
        wechat=True,
    ),
    ("api/v1/auth/logout", "POST"): any_parent_rule(
        lambda w: Req("/api/v1/auth/logout"), ok(204, check=check_logout, changes={"contacts.ParentToken"})
    ),
    ("api/v1/me/voip-scope", "GET"): any_parent_rule(
        lambda w: Req("/api/v1/me/voip-scope"), ok(check=check_voip_scope)
    ),
    ("api/v1/me/voip-scope", "PUT"): any_parent_rule(
        lambda w: Req("/api/v1/me/voip-scope", body={"granted": False}),
        ok(check=check_scope_put, changes={"contacts.Parent", "schools.AuditLog"}),
    ),
    ("api/v1/me/students", "GET"): any_parent_rule(lambda w: Req("/api/v1/me/students"), ok(check=check_my_students)),
    ("api/v1/me/pending-actions", "GET"): any_parent_rule(
        lambda w: Req("/api/v1/me/pending-actions"), ok(check=check_pending_actions)
    ),
    # --- binding (contacts.apis.binding)
    ("api/v1/students/<str:user_id>/admin", "POST"): parent_rule(
        students_of("student", "admin", lambda w: {"relation": "爸爸"}),
        admin=BINDED,
        ordinary=BINDED,
        strangers=refused(409, "admin_exists"),
    ),
    ("api/v1/students/<str:user_id>/share-links", "POST"): parent_rule(
        students_of("student", "share-links", lambda w: {"plugin_path": "plugin-private://wxplugin/bind"}),
        admin=ok(201, check=check_share_link_created, changes={"contacts.ShareLink", "schools.AuditLog"}),
        ordinary=NOT_ADMIN,
        strangers=NOT_YOURS,
    ),
    ("api/v1/share-links/<str:token>", "GET"): any_parent_rule(
        lambda w: Req(f"/api/v1/share-links/{w.link_token}"),
        ok(check=check_keys("user_name", "user_avatar", "school", "expires_at", "state", "plugin_path")),
    ),
    ("api/v1/share-links/<str:token>/bind", "POST"): parent_rule(
        lambda w: Req(f"/api/v1/share-links/{w.link_token}/bind", body={"relation": "奶奶"}),
        admin=BINDED,
        ordinary=BINDED,
        # The link is the admin's invitation: any parent holding it may bind, as WeChat's own would.
        strangers=ok(check=check_share_bind_allowed, changes=CONTACTS_AUDITED),
    ),
    ("api/v1/scenes/<str:scene>", "GET"): any_parent_rule(
        lambda w: Req(f"/api/v1/scenes/{w.scene}"), ok(check=check_scene)
    ),
    ("api/v1/bind-events", "POST"): any_parent_rule(
        lambda w: Req("/api/v1/bind-events", body={"type": "success", "errMsg": "ok", "userId": w.student.user_id}),
        ok(check=check_bind_event, changes={"contacts.BindEvent"}),
    ),
    # --- a student's contacts (contacts.apis.contacts)
    ("api/v1/students/<str:user_id>/contacts", "GET"): parent_rule(
        students("contacts"),
        admin=ok(check=check_contact_list),
        ordinary=ok(check=check_contact_list),
        strangers=NOT_YOURS,
    ),
    ("api/v1/students/<str:user_id>/contacts/delete", "POST"): parent_rule(
        students_of("student", "contacts/delete", lambda w: {"openid_list": [w.ordinary.openid]}),
        admin=ok(check=check_deleted, changes=CONTACTS_AUDITED),
        ordinary=NOT_ADMIN,
        strangers=NOT_YOURS,
    ),
    ("api/v1/students/<str:user_id>/contacts/me", "DELETE"): parent_rule(
        students("contacts/me"),
        admin=refused(409, "admin_must_transfer"),
        ordinary=ok(204, check=check_left, changes=CONTACTS_AUDITED),
        strangers=NOT_YOURS,
    ),
    ("api/v1/students/<str:user_id>/admin/transfer", "POST"): parent_rule(
        students_of("student", "admin/transfer", lambda w: {"new_admin_openid": w.ordinary.openid}),
        admin=ok(check=check_transfer, changes=CONTACTS_AUDITED),
        ordinary=NOT_ADMIN,
        strangers=NOT_YOURS,
    ),
    ("api/v1/students/<str:user_id>/call-order", "PUT"): parent_rule(
        students_of("student", "call-order", lambda w: {"openid_list": [w.ordinary.openid, w.admin.openid]}),
        admin=ok(check=check_call_order, changes=CONTACTS_AUDITED),
        ordinary=NOT_ADMIN,
        strangers=NOT_YOURS,
    ),
    # --- devices and calls of the parents' mini-program (calls.apis)
    ("api/v1/devices/<str:sn>/sn-ticket", "GET"): parent_rule(
        lambda w: Req(f"/api/v1/devices/{w.device.sn}/sn-ticket", query={"model_id": w.device.model_id}),
        admin=ok(check=check_sn_ticket),
        ordinary=ok(check=check_sn_ticket),
        same_school=ok(check=check_sn_ticket),  # any parent of the school may authorize its phones
        other_school=refused(404, "not_found"),
        wechat=True,
    ),
    ("api/v1/device-authorizations", "GET"): any_parent_rule(
        lambda w: Req("/api/v1/device-authorizations"), ok(check=check_own_authorizations)
    ),
    ("api/v1/device-authorizations", "POST"): parent_rule(
        lambda w: Req(
            "/api/v1/device-authorizations",
            body={"sn": w.spare_device.sn, "model_id": w.spare_device.model_id, "status": 1},
        ),
        admin=ok(check=check_authorization_recorded, changes=AUTHORIZATIONS),
        ordinary=ok(check=check_authorization_recorded, changes=AUTHORIZATIONS),
        same_school=ok(check=check_authorization_recorded, changes=AUTHORIZATIONS),
        other_school=NOT_YOURS,
    ),
    ("api/v1/device-authorizations", "PUT"): parent_rule(
        lambda w: Req("/api/v1/device-authorizations", body={"list": [{"group_id": w.group.group_id, "status": 1}]}),
        admin=ok(check=check_authorizations_replaced, changes=AUTHORIZATIONS),
        ordinary=ok(check=check_authorizations_replaced, changes=AUTHORIZATIONS),
        same_school=ok(check=check_authorizations_replaced, changes=AUTHORIZATIONS),
        other_school=NOT_YOURS,
    ),
    ("api/v1/students/<str:user_id>/calls", "GET"): parent_rule(
        students("calls"),
        admin=ok(check=check_call_history),
        ordinary=ok(check=check_call_history),
        strangers=NOT_YOURS,
    ),
    # --- the vendors' device API (calls.apis.device)
    ("api/v1/device/iot-bind-contacts", "POST"): client_rule(
        lambda w: Req(
            "/api/v1/device/iot-bind-contacts",
            body=device_body(w, openid_list=[w.admin.openid, w.ordinary.openid, w.other_school_parent.openid]),
        ),
        client=ok(check=check_iot, errcode=0),
        other_client=refused(404, errcode=9300001),
    ),
    ("api/v1/device/calls/check", "POST"): client_rule(
        lambda w: Req(
            "/api/v1/device/calls/check", body=device_body(w, user_id=w.student.user_id, openid=w.admin.openid)
        ),
        client=ok(errcode=0),
        other_client=refused(404, errcode=9300001),
    ),
    ("api/v1/device/calls/events", "POST"): client_rule(
        lambda w: Req(
            "/api/v1/device/calls/events",
            body=device_body(
                w, roomId="room-new", eventName="startVoip", user_id=w.student.user_id, openid=w.admin.openid
            ),
        ),
        client=ok(check=check_call_event, errcode=0, changes={"calls.CallRecord"}),
        other_client=refused(404, errcode=9300001),
    ),
    ("api/v1/device/students/<str:user_id>/call-plan", "GET"): client_rule(
        lambda w: Req(
            f"/api/v1/device/students/{w.student.user_id}/call-plan",
            query={"sn": w.device.sn, "model_id": w.device.model_id},
        ),
        client=ok(check=check_call_plan, errcode=0),
        other_client=refused(404, errcode=9300001),
    ),
    ("api/v1/device/events", "GET"): client_rule(
        lambda w: Req("/api/v1/device/events", query={"cursor": 0}),
        client=ok(check=check_own_events, errcode=0),
        other_client=ok(check=check_own_events, errcode=0),  # its own school's, and no other
    ),
    # --- WeChat-compatible (schools.apis, contacts.apis.wechat)
    ("wxa/business/getvoipcontactlist", "POST"): client_rule(
        lambda w: Req("/wxa/business/getvoipcontactlist", body={"user_id": w.student.user_id}),
        client=ok(check=check_voip_contact_list, errcode=0),
        # Another school's student is unknown: WeChat's "no contact list", HTTP 200, nothing shown.
        other_client=ok(check=check_empty_contact_list, errcode=1),
    ),
    # No credential but appid and secret obtains a token: a wrong secret is refused whoever asks.
    ("cgi-bin/token", "GET"): public_rule(
        lambda w: Req(
            "/cgi-bin/token", query={"grant_type": "client_credential", "appid": w.client.appid, "secret": "wrong"}
        ),
        refused(401, errcode=40001),
    ),
    # --- unknown paths under /api/ (portal.urls.api_not_found): 404 for everyone, whatever the method
    **{
        ("^api/", method): Rule(
            "nobody",
            lambda w: Req(f"/api/v1/students/{w.student.user_id}/everything", body={"role": 1}),
            dict.fromkeys(ACTORS, refused(404, "not_found")),
        )
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    },
}

# HEAD and OPTIONS are declared once for every endpoint: HEAD answers as GET does, without a body;
# OPTIONS is DRF's metadata (name, description, renders, parses: no data), for whoever the endpoint
# authenticates, and refused to others as GET or POST would be.
METADATA_KEYS = {"name", "description", "renders", "parses"}


def rule_for(route: str, method: str) -> Rule | None:
    """The declared rule of ``(route, method)``; HEAD's and OPTIONS's derived from the route's own."""
    if (route, method) in RULES:
        return RULES[(route, method)]
    if method == "HEAD" and (route, "GET") in RULES:
        base = RULES[(route, "GET")]
        outcomes = {a: Outcome(o.status, changes=o.changes) for a, o in base.outcomes.items()}
        return Rule(base.kind, base.request, outcomes, base.wechat)
    if method == "OPTIONS":
        base = next((RULES[(r, m)] for (r, m) in RULES if r == route), None)
        if base is None:
            return None
        metadata = ok(check=lambda w, actor, body: METADATA_KEYS.issuperset(body))
        if base.kind == "parent":
            outcomes = {**NOT_A_PARENT, **dict.fromkeys(PARENTS, metadata)}
        elif base.kind == "client":
            outcomes = {**NOT_A_CLIENT, **dict.fromkeys(CLIENTS, metadata)}
        else:
            outcomes = dict.fromkeys(ACTORS, metadata)
        return Rule(base.kind, base.request, outcomes)
    return None


# --- The world ------------------------------------------------------------------------------------


def build_world() -> SimpleNamespace:
    """School A with the student, its contacts, phones, a share link, calls and staff; school B with
    its own; three API clients; a bearer token for each parent and an API client for each actor."""
    now = timezone.now()
    school, other_school = SchoolFactory(name="甲实验小学"), SchoolFactory(name="乙实验小学")
    group = DeviceGroupFactory(school=school)
    device = DeviceFactory(school=school, group=group)  # hardware mode, in the group
    spare_device = DeviceFactory(school=school)  # hardware mode, authorized by nobody
    face_pay = DeviceFactory(school=school, call_mode=CallMode.FACE_PAY, group=None)
    other_device = DeviceFactory(school=other_school)
    student = StudentFactory(school=school)
    admin = ContactFactory(student=student, role=Contact.Role.ADMIN, relation="妈妈", bound_via="admin").parent
    ordinary = ContactFactory(student=student, relation="爸爸", bound_at=now + timedelta(seconds=1)).parent
    leaving = ContactFactory(
        student=student, relation="爷爷", state="removing", bound_at=now + timedelta(seconds=2)
    ).parent
    sibling = StudentFactory(school=school)  # another student of school A
    same_school_parent = ContactFactory(student=sibling, role=Contact.Role.ADMIN).parent
    unclaimed = StudentFactory(school=school)  # no contact yet
    other_student = StudentFactory(school=other_school)
    other_school_parent = ContactFactory(student=other_student, role=Contact.Role.ADMIN).parent
    former = StudentFactory(school=school, is_active=False)  # the admin's, deactivated: shown to nobody
    ContactFactory(student=former, parent=admin, role=Contact.Role.ADMIN)
    link, link_token = ShareLink.issue(
        student=student,
        issued_by=admin,
        plugin_path="plugin-private://wxplugin/bind?ticket=1",
        user_name=student.name,
        expires_at=now + timedelta(hours=24),
    )
    scene = MiniProgramScene.objects.create(student=student, code="AuthzScene0001").code
    event = event_emit(school_id=school.pk, type="contact.changed", data={"user_id": student.user_id})
    other_event = event_emit(school_id=other_school.pk, type="contact.changed", data={"user_id": other_student.user_id})
    outbox_positions_assign()
    event.refresh_from_db()
    other_event.refresh_from_db()
    DeviceAuthorizationFactory(parent=admin, device=device)
    DeviceAuthorizationFactory(parent=other_school_parent, device=other_device)
    two_days_ago = now - timedelta(days=2)
    room_admin = make_call(student=student, device=device, openid=admin.openid, started_at=two_days_ago).room_id
    room_ordinary = make_call(student=student, device=device, openid=ordinary.openid, started_at=two_days_ago).room_id
    room_other = make_call(
        student=other_student, device=other_device, openid=other_school_parent.openid, started_at=two_days_ago
    ).room_id

    parent = {
        "admin_contact": admin,
        "ordinary_contact": ordinary,
        "same_school_parent": same_school_parent,
        "other_school_parent": other_school_parent,
    }
    bearer, token_row = {}, {}
    for actor, p in parent.items():
        token_row[actor], bearer[actor] = ParentToken.issue(parent=p, expires_at=now + timedelta(days=7))
    _expired, bearer["expired_parent_token"] = ParentToken.issue(
        parent=admin, created_at=now - timedelta(days=8), expires_at=now - timedelta(minutes=1)
    )
    revoked_token, bearer["revoked_parent_token"] = ParentToken.issue(parent=admin, expires_at=now + timedelta(days=7))
    parent_token_revoke(token=revoked_token)

    client = ApiClientFactory(schools=[school])
    other_client = ApiClientFactory(schools=[other_school])
    inactive_client = ApiClientFactory(schools=[school])
    fresh = now + settings.API_ACCESS_TOKEN_TTL  # as /cgi-bin/token issues them
    access = {
        "school_client": ApiAccessToken.issue(client=client, expires_at=fresh)[1],
        "other_school_client": ApiAccessToken.issue(client=other_client, expires_at=fresh)[1],
        "inactive_client": ApiAccessToken.issue(client=inactive_client, expires_at=fresh)[1],
        "expired_access_token": ApiAccessToken.issue(client=client, expires_at=now - timedelta(seconds=1))[1],
    }
    inactive_client.is_active = False
    inactive_client.save(update_fields=["is_active"])

    staff = {
        "staff_viewer": StaffMembershipFactory(
            school=school, role=StaffMembership.Role.VIEWER, permissions=("schools", "contacts", "calls")
        ).user,
        "staff_admin": StaffMembershipFactory(
            school=school,
            role=StaffMembership.Role.ADMIN,
            user=UserFactory(username="authz-admin"),
            permissions=("schools", "contacts", "calls"),
        ).user,
        "superuser": User.objects.create_superuser("authz-root", "root@example.com", "pw"),
    }
    clients = {}
    for actor in ACTORS:
        api = APIClient()
        api.raise_request_exception = False  # a 500 is one more wrong answer in the list
        if actor in bearer:
            api.credentials(HTTP_AUTHORIZATION=f"Bearer {bearer[actor]}")
        if actor in staff:
            api.force_login(staff[actor])
        if actor == "crossed_credentials":
            api.credentials(HTTP_AUTHORIZATION=f"Bearer {access['school_client']}")
        clients[actor] = api
    access["crossed_credentials"] = bearer["admin_contact"]

    return SimpleNamespace(
        school=school,
        other_school=other_school,
        group=group,
        device=device,
        spare_device=spare_device,
        face_pay=face_pay,
        other_device=other_device,
        student=student,
        sibling=sibling,
        unclaimed=unclaimed,
        other_student=other_student,
        former=former,
        own_student={"same_school_parent": sibling, "other_school_parent": other_student},
        admin=admin,
        ordinary=ordinary,
        leaving=leaving,
        same_school_parent=same_school_parent,
        other_school_parent=other_school_parent,
        parent=parent,
        link=link,
        link_token=link_token,
        scene=scene,
        room_admin=room_admin,
        room_ordinary=room_ordinary,
        room_other=room_other,
        event=event,
        other_event=other_event,
        bearer=bearer,
        token_row=token_row,
        revoked_token=revoked_token,
        client=client,
        other_client=other_client,
        access=access,
        clients=clients,
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The world, built once for the module in a transaction rolled back after it; each test runs in
    a savepoint of it (pytest-django), each request in a savepoint of that (``attempt``)."""
    with django_db_blocker.unblock(), transaction.atomic():
        w = build_world()
        w.baseline = snapshot()
        w.baseline_token_ids = set(ParentToken.objects.values_list("pk", flat=True))
        yield w
        transaction.set_rollback(True)


def snapshot() -> dict:
    """Every row of the apps' tables (and users): small in this world, compared whole."""
    models = [m for m in apps.get_models() if m._meta.app_label in ("schools", "contacts", "calls")] + [User]
    return {m._meta.label: list(m._base_manager.order_by("pk").values_list()) for m in models if not m._meta.proxy}


def changed_tables(w, queries) -> set[str]:
    """The tables whose rows differ from the world's (``w.baseline``) after ``queries``; the database is
    read again only when one of them wrote (every request starts from the world: each is rolled back)."""
    if not any(q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) for q in queries):
        return set()
    return {label for label, rows in snapshot().items() if rows != w.baseline[label]}


def send(w, actor: str, method: str, req: Req):
    query = dict(req.query)
    if actor in w.access:
        query["access_token"] = w.access[actor]
    path = req.path + (f"?{urlencode(query)}" if query else "")
    client = w.clients[actor]
    if method in ("GET", "HEAD", "OPTIONS"):
        return getattr(client, method.lower())(path)
    return getattr(client, method.lower())(path, req.body, format="json")


def attempt(w, actor: str, method: str, req: Req, outcome: Outcome, extra_check=None) -> list[str]:
    """Send the request as ``actor`` in a savepoint rolled back after it; the problems found, if any."""
    problems = []
    cache.clear()  # the abuse limits (core.throttling) count every request of a test: not this test's subject
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            response = send(w, actor, method, req)
        changed = changed_tables(w, queries.captured_queries)
        body = response.json() if response.content and method != "HEAD" and response.status_code != 500 else None
        fields = body if isinstance(body, dict) else {}
        if response.status_code != outcome.status:
            problems.append(f"status {response.status_code}, expected {outcome.status}: {response.content[:300]!r}")
        if outcome.code is not None and fields.get("code") != outcome.code:
            problems.append(f"code {fields.get('code')!r}, expected {outcome.code!r}: {body}")
        if outcome.errcode is not None:
            if fields.get("errcode") != outcome.errcode:
                problems.append(f"errcode {fields.get('errcode')!r}, expected {outcome.errcode}: {body}")
            if outcome.status >= 400 and body is not None and set(body) != {"errcode", "errmsg"}:
                problems.append(f"a WeChat-compatible refusal is {{errcode, errmsg}}, not {body}")
        if changed - may_change(outcome):
            problems.append(
                f"changed {sorted(changed - may_change(outcome))} (may change {sorted(may_change(outcome))})"
            )
        checks = [c for c in (outcome.check, extra_check) if c is not None]
        if not problems and method != "HEAD":
            for check in checks:
                try:
                    check(w, actor, body)
                except AssertionError as exc:
                    problems.append(f"{check.__name__}: {exc}")
        transaction.set_rollback(True)
    return problems


# --- The tests ------------------------------------------------------------------------------------


def test_every_endpoint_and_method_has_a_rule():
    missing = [f"{method} {route}" for route, method in ENDPOINT_METHODS if rule_for(route, method) is None]
    assert not missing, f"endpoints without an authorization rule in RULES: {missing}"
    stale = [f"{m} {r}" for (r, m) in RULES if (r, m) not in ENDPOINT_METHODS]
    assert not stale, f"rules of endpoints or methods that no longer exist: {stale}"
    for rule in RULES.values():
        assert set(rule.outcomes) == set(ACTORS), rule


def test_views_authenticate_as_their_rule_says():
    """Parents by bearer token only, vendors by access_token only: no view takes the admin's session
    cookie (or a password), so staff logged into the admin cannot use the APIs with it."""
    expected = {
        "parent": ([ParentTokenAuthentication], [IsParent]),
        "client": ([AccessTokenAuthentication], [IsApiClient]),
        "public": ([], []),
        "nobody": ([], []),
    }
    for route, view in ENDPOINTS.items():
        kinds = {rule.kind for (r, _m), rule in RULES.items() if r == route}
        assert len(kinds) == 1, (route, kinds)
        auth, permissions = expected[kinds.pop()]
        assert list(view.authentication_classes) == auth, route
        assert list(view.permission_classes) == permissions, route


@pytest.mark.parametrize(("route", "method"), ENDPOINT_METHODS, ids=[f"{m} {r}" for r, m in ENDPOINT_METHODS])
def test_actor_matrix(world, request, route, method):
    assert snapshot() == world.baseline  # every test starts from the world
    rule = rule_for(route, method)
    assert rule is not None, f"{method} {route} has no authorization rule: declare one in RULES"
    if rule.wechat:
        request.getfixturevalue("fake_wechat").sessions[LOGIN_CODE] = {"openid": NEWCOMER, "session_key": "k"}
    req = rule.request(world)
    failures = [
        f"{method} {route} as {actor}: {problem}"
        for actor in ACTORS
        for problem in attempt(world, actor, method, req, rule.outcomes[actor])
    ]
    assert not failures, "\n".join(failures)


def test_methods_a_view_does_not_allow_answer_405_and_change_nothing(world):
    """Once authenticated, any other method is refused (before, the endpoint's 401 comes first)."""
    failures = []
    for route, view in ENDPOINTS.items():
        allowed = view_methods(view)
        rule = rule_for(route, allowed[0])
        actor = {"parent": "admin_contact", "client": "school_client"}.get(rule.kind, "anonymous")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if method not in allowed:
                problems = attempt(world, actor, method, rule.request(world), refused(405))
                failures += [f"{method} {route} as {actor}: {p}" for p in problems]
    assert not failures, "\n".join(failures)


# --- Mass assignment ------------------------------------------------------------------------------


def attacker_fields(w) -> dict:
    """What an attacker adds to a body: roles, states, other students', schools' and parents' ids."""
    return {
        "role": 1,
        "is_ad": 1,
        "state": "confirmed",
        "student": w.sibling.pk,
        "student_id": w.sibling.pk,
        "user_id": w.sibling.user_id,
        "school": w.other_school.pk,
        "school_id": w.other_school.pk,
        "parent": w.other_school_parent.pk,
        "parent_id": w.other_school_parent.pk,
        "openid": w.other_school_parent.openid,
        "issued_by": w.other_school_parent.pk,
        "client": w.other_client.pk,
        "appid": w.other_client.appid,
        "id": 1,
        "pk": 1,
    }


@dataclass(frozen=True)
class Case:
    """One request (``request(world) -> Req``) as ``actor``, with its outcome."""

    actor: str
    method: str
    request: Callable
    outcome: Outcome


def sibling_contacts_untouched(w, actor, body):
    rows = Contact.objects.filter(student__in=[w.sibling, w.other_student]).values_list("parent", "role", "state")
    expected = [(w.same_school_parent.pk, 1, "confirmed"), (w.other_school_parent.pk, 1, "confirmed")]
    assert sorted(rows) == sorted(expected)


def all_of(*checks):
    def check(w, actor, body):
        for c in checks:
            c(w, actor, body)

    check.__name__ = "+".join(c.__name__ for c in checks)
    return check


def check_newcomer_only(w, actor, body):
    check_login(w, actor, body)
    newcomer = Parent.objects.get(openid=NEWCOMER)
    assert newcomer.unionid != "uAttacker"
    assert not ParentToken.objects.exclude(parent=newcomer).exclude(pk__in=w.baseline_token_ids).exists()


def check_claimed(w, actor, body):
    assert body == {"allowed": True, "userId": w.unclaimed.user_id, "state": "pending"}
    [contact] = Contact.objects.filter(student=w.unclaimed)
    assert (contact.parent, contact.role, contact.state, contact.bound_via) == (
        w.same_school_parent,
        Contact.Role.ADMIN,
        "pending",
        "admin",
    )
    sibling_contacts_untouched(w, actor, body)


def check_link_as_issued(w, actor, body):
    check_share_link_created(w, actor, body)
    assert body["token"] != "chosen-token" and not ShareLink.objects.filter(ShareLink.token_q("chosen-token"))
    link = ShareLink.objects.get(ShareLink.token_q(body["token"]))
    assert link.expires_at <= timezone.now() + timedelta(hours=w.school.share_link_ttl)
    assert link.state == "active"


def check_scope_of_caller_only(w, actor, body):
    assert Parent.objects.get(pk=w.admin.pk).voip_scope_granted
    assert not Parent.objects.get(pk=w.same_school_parent.pk).voip_scope_granted
    assert Contact.objects.filter(student=w.student, parent=w.same_school_parent).count() == 0


def check_authorization_as_reported(w, actor, body):
    check_authorization_recorded(w, actor, body)
    record = DeviceAuthorization.objects.get(device=w.spare_device)
    assert (record.stale, record.source) == (False, "request")


def check_refused_check(w, actor, body):
    assert body["errcode"] == 9 and body["time_limit"] == 0 and body["business_type"] == 1


def check_event_as_derived(w, actor, body):
    record = CallRecord.objects.get(room_id="room-new")
    assert (record.school, record.student, record.device, record.parent) == (w.school, w.student, w.device, w.admin)
    assert (record.outcome, record.billed_seconds) == ("started", 10)


MASS_ASSIGNMENT = {
    ("api/v1/auth/login", "POST"): Case(
        "anonymous",
        "POST",
        lambda w: Req(
            "/api/v1/auth/login",
            body={**attacker_fields(w), "code": LOGIN_CODE, "unionid": "uAttacker", "token": "chosen-token"},
        ),
        ok(check=check_newcomer_only, changes={"contacts.Parent", "contacts.ParentToken"}),
    ),
    ("api/v1/auth/logout", "POST"): Case(
        "admin_contact",
        "POST",
        lambda w: Req("/api/v1/auth/logout", body={**attacker_fields(w), "token": w.bearer["ordinary_contact"]}),
        ok(204, check=check_logout, changes={"contacts.ParentToken"}),
    ),
    ("api/v1/me/voip-scope", "PUT"): Case(
        "ordinary_contact",
        "PUT",
        lambda w: Req(
            "/api/v1/me/voip-scope",
            body={**attacker_fields(w), "granted": False, "openid": w.admin.openid, "voip_scope_lost_at": None},
        ),
        ok(check=check_scope_put, changes={"contacts.Parent", "schools.AuditLog"}),
    ),
    ("api/v1/students/<str:user_id>/admin", "POST"): Case(
        "same_school_parent",
        "POST",
        students_of("unclaimed", "admin", lambda w: {**attacker_fields(w), "relation": "爸爸", "bound_via": "staff"}),
        ok(check=check_claimed, changes=CONTACTS_AUDITED),
    ),
    ("api/v1/students/<str:user_id>/admin/transfer", "POST"): Case(
        "admin_contact",
        "POST",
        students_of(
            "student",
            "admin/transfer",
            lambda w: {**attacker_fields(w), "new_admin_openid": w.ordinary.openid, "done": True},
        ),
        ok(check=all_of(check_transfer, sibling_contacts_untouched), changes=CONTACTS_AUDITED),
    ),
    ("api/v1/students/<str:user_id>/share-links", "POST"): Case(
        "admin_contact",
        "POST",
        students_of(
            "student",
            "share-links",
            lambda w: {
                **attacker_fields(w),
                "plugin_path": "plugin-private://wxplugin/bind",
                "token": "chosen-token",
                "expires_at": "2099-01-01T00:00:00Z",
                "state": "active",
                "token_hash": "0" * 64,
            },
        ),
        ok(201, check=check_link_as_issued, changes={"contacts.ShareLink", "schools.AuditLog"}),
    ),
    ("api/v1/students/<str:user_id>/contacts/delete", "POST"): Case(
        "admin_contact",
        "POST",
        # The sibling's admin named too: not a contact of this student, so not touched.
        students_of(
            "student",
            "contacts/delete",
            lambda w: {**attacker_fields(w), "openid_list": [w.ordinary.openid, w.same_school_parent.openid]},
        ),
        ok(check=all_of(check_deleted, sibling_contacts_untouched), changes=CONTACTS_AUDITED),
    ),
    ("api/v1/students/<str:user_id>/contacts/me", "DELETE"): Case(
        "ordinary_contact",
        "DELETE",
        students_of("student", "contacts/me", lambda w: {**attacker_fields(w), "openid": w.admin.openid}),
        ok(204, check=all_of(check_left, sibling_contacts_untouched), changes=CONTACTS_AUDITED),
    ),
    ("api/v1/students/<str:user_id>/call-order", "PUT"): Case(
        "admin_contact",
        "PUT",
        students_of(
            "student",
            "call-order",
            lambda w: {**attacker_fields(w), "openid_list": [w.ordinary.openid, w.admin.openid], "call_order": 1},
        ),
        ok(check=all_of(check_call_order, sibling_contacts_untouched), changes=CONTACTS_AUDITED),
    ),
    ("api/v1/share-links/<str:token>/bind", "POST"): Case(
        "same_school_parent",
        "POST",
        lambda w: Req(
            f"/api/v1/share-links/{w.link_token}/bind",
            body={**attacker_fields(w), "relation": "奶奶", "bound_via": "admin"},
        ),
        ok(check=all_of(check_share_bind_allowed, sibling_contacts_untouched), changes=CONTACTS_AUDITED),
    ),
    ("api/v1/bind-events", "POST"): Case(
        "same_school_parent",
        "POST",
        lambda w: Req(
            "/api/v1/bind-events",
            body={
                **attacker_fields(w),
                "type": "auth",
                "errMsg": "no scope",
                "userId": w.student.user_id,
                "openid": w.admin.openid,
            },
        ),
        ok(check=check_scope_of_caller_only, changes={"contacts.BindEvent", "contacts.Parent", "schools.AuditLog"}),
    ),
    ("api/v1/device-authorizations", "POST"): Case(
        "ordinary_contact",
        "POST",
        lambda w: Req(
            "/api/v1/device-authorizations",
            body={
                **attacker_fields(w),
                "sn": w.spare_device.sn,
                "model_id": w.spare_device.model_id,
                "status": 1,
                "stale": True,
                "source": "reconcile",
            },
        ),
        ok(check=check_authorization_as_reported, changes=AUTHORIZATIONS),
    ),
    ("api/v1/device-authorizations", "PUT"): Case(
        "ordinary_contact",
        "PUT",
        lambda w: Req(
            "/api/v1/device-authorizations",
            body={
                **attacker_fields(w),
                "list": [{**attacker_fields(w), "group_id": w.group.group_id, "status": 1}],
            },
        ),
        ok(check=check_authorizations_replaced, changes=AUTHORIZATIONS),
    ),
    ("api/v1/device/iot-bind-contacts", "POST"): Case(
        "school_client",
        "POST",
        lambda w: Req(
            "/api/v1/device/iot-bind-contacts",
            body={
                **attacker_fields(w),
                **device_body(w, openid_list=[w.admin.openid, w.ordinary.openid, w.other_school_parent.openid]),
            },
        ),
        ok(check=check_iot, errcode=0),
    ),
    ("api/v1/device/calls/check", "POST"): Case(
        "school_client",
        "POST",
        lambda w: Req(
            "/api/v1/device/calls/check",
            body={
                **attacker_fields(w),
                **device_body(w, user_id=w.student.user_id, openid=w.other_school_parent.openid),
                "errcode": 0,
                "time_limit": 9999,
                "business_type": 3,
            },
        ),
        ok(check=check_refused_check),
    ),
    ("api/v1/device/calls/events", "POST"): Case(
        "school_client",
        "POST",
        lambda w: Req(
            "/api/v1/device/calls/events",
            body={
                **attacker_fields(w),
                **device_body(
                    w,
                    roomId="room-new",
                    eventName="finishVoip",
                    user_id=w.student.user_id,
                    openid=w.admin.openid,
                    data={"keepTime": 10},
                ),
                "student": w.other_student.pk,
                "outcome": "completed",
                "billed_seconds": 9999,
                "keep_time": 9999,
            },
        ),
        ok(check=check_event_as_derived, errcode=0, changes={"calls.CallRecord"}),
    ),
    ("wxa/business/getvoipcontactlist", "POST"): Case(
        "school_client",
        "POST",
        lambda w: Req("/wxa/business/getvoipcontactlist", body={**attacker_fields(w), "user_id": w.student.user_id}),
        ok(check=check_voip_contact_list, errcode=0),
    ),
}

# --- Other objects named in bodies and query strings (BOLA) ----------------------------------------


def scope_kept(w, actor, body):
    assert Parent.objects.get(pk=w.other_school_parent.pk).voip_scope_granted


def scope_lost(w, actor, body):
    assert not Parent.objects.get(pk=w.admin.pk).voip_scope_granted


def init_failed(w, openid, room="room-failed"):
    return Req(
        "/api/v1/device/calls/events",
        body=device_body(
            w,
            roomId=room,
            eventName="initByCallerFail",
            user_id=w.student.user_id,
            openid=openid,
            data={"errCode": 8, "errMsg": "initByCaller:fail"},
        ),
    )


ATTACKS = {
    "the admin hands the role to another student's contact": Case(
        "admin_contact",
        "POST",
        students_of("student", "admin/transfer", lambda w: {"new_admin_openid": w.same_school_parent.openid}),
        NOT_YOURS,
    ),
    "the admin's call order names another student's contact": Case(
        "admin_contact",
        "PUT",
        students_of("student", "call-order", lambda w: {"openid_list": [w.same_school_parent.openid]}),
        NOT_YOURS,
    ),
    "the admin reads a deactivated student's contacts": Case(
        "admin_contact", "GET", lambda w: Req(f"/api/v1/students/{w.former.user_id}/contacts"), NOT_YOURS
    ),
    "the admin reads a deactivated student's calls": Case(
        "admin_contact", "GET", lambda w: Req(f"/api/v1/students/{w.former.user_id}/calls"), NOT_YOURS
    ),
    "the admin shares a link for a deactivated student": Case(
        "admin_contact",
        "POST",
        students_of("former", "share-links", lambda w: {"plugin_path": "p"}),
        NOT_YOURS,
    ),
    "a parent of another school authorizes this school's group": Case(
        "other_school_parent",
        "POST",
        lambda w: Req("/api/v1/device-authorizations", body={"group_id": w.group.group_id, "status": 1}),
        NOT_YOURS,
    ),
    "a parent authorizes another school's phone": Case(
        "admin_contact",
        "POST",
        lambda w: Req(
            "/api/v1/device-authorizations",
            body={"sn": w.other_device.sn, "model_id": w.other_device.model_id, "status": 1},
        ),
        NOT_YOURS,
    ),
    "a parent's list names another school's phone: nothing is replaced": Case(
        "admin_contact",
        "PUT",
        lambda w: Req(
            "/api/v1/device-authorizations",
            body={
                "list": [
                    {"sn": w.spare_device.sn, "model_id": w.spare_device.model_id, "status": 1},
                    {"sn": w.other_device.sn, "model_id": w.other_device.model_id, "status": 1},
                ]
            },
        ),
        NOT_YOURS,
    ),
    "a parent asks an snTicket for another school's phone": Case(
        "admin_contact",
        "GET",
        lambda w: Req(f"/api/v1/devices/{w.other_device.sn}/sn-ticket", query={"model_id": w.other_device.model_id}),
        NOT_YOURS,
    ),
    "a vendor asks the call plan of another school's student on its own phone": Case(
        "school_client",
        "GET",
        lambda w: Req(
            f"/api/v1/device/students/{w.other_student.user_id}/call-plan",
            query={"sn": w.device.sn, "model_id": w.device.model_id},
        ),
        refused(404, errcode=9300002),
    ),
    "a vendor checks a call to another school's student": Case(
        "school_client",
        "POST",
        lambda w: Req(
            "/api/v1/device/calls/check",
            body=device_body(w, user_id=w.other_student.user_id, openid=w.other_school_parent.openid),
        ),
        refused(404, errcode=9300002),
    ),
    "a vendor's face-pay phone asks for another school's student's contacts": Case(
        "school_client",
        "POST",
        lambda w: Req(
            "/api/v1/device/iot-bind-contacts",
            body={
                "sn": w.face_pay.sn,
                "model_id": w.face_pay.model_id,
                "user_id": w.other_student.user_id,
                "openid_list": [w.other_school_parent.openid],
            },
        ),
        refused(404, errcode=9300002),
    ),
    "a vendor reads another school's student's contact list": Case(
        "school_client",
        "POST",
        lambda w: Req("/wxa/business/getvoipcontactlist", body={"user_id": w.other_student.user_id}),
        ok(check=check_empty_contact_list, errcode=1),
    ),
    "a vendor reports an event on another school's roomId": Case(
        "school_client",
        "POST",
        lambda w: Req(
            "/api/v1/device/calls/events",
            body=device_body(
                w, roomId=w.room_other, eventName="endVoip", user_id=w.student.user_id, openid=w.admin.openid
            ),
        ),
        refused(409, errcode=9300009),
    ),
    "a vendor's errCode 8 for a parent of another school leaves its scope.voip alone": Case(
        "school_client",
        "POST",
        lambda w: init_failed(w, w.other_school_parent.openid),
        ok(check=scope_kept, errcode=0, changes={"calls.CallRecord"}),
    ),
    "a vendor's errCode 8 for a parent of its school clears its scope.voip": Case(
        "school_client",
        "POST",
        lambda w: init_failed(w, w.admin.openid),
        ok(check=scope_lost, errcode=0, changes={"calls.CallRecord", "contacts.Parent", "schools.AuditLog"}),
    ),
}


def writes_someone_may_make(route, method) -> bool:
    rule = rule_for(route, method)
    return method in WRITE_METHODS and any(o.status < 300 for o in rule.outcomes.values())


WRITES = [(r, m) for r, m in ENDPOINT_METHODS if rule_for(r, m) and writes_someone_may_make(r, m)]
MASS_PAIRS = sorted(set(WRITES) | set(MASS_ASSIGNMENT))


@pytest.mark.parametrize(("route", "method"), MASS_PAIRS, ids=[f"{m} {r}" for r, m in MASS_PAIRS])
def test_mass_assignment_is_ignored(world, request, route, method):
    case = MASS_ASSIGNMENT.get((route, method))
    assert case is not None, f"{method} {route} takes a body: declare its mass-assignment case in MASS_ASSIGNMENT"
    assert (route, method) in ENDPOINT_METHODS, f"{method} {route} no longer exists"
    if rule_for(route, method).wechat:
        request.getfixturevalue("fake_wechat").sessions[LOGIN_CODE] = {"openid": NEWCOMER, "session_key": "k"}
    problems = attempt(world, case.actor, case.method, case.request(world), case.outcome)
    assert not problems, "\n".join(f"{method} {route} as {case.actor}: {p}" for p in problems)


@pytest.mark.parametrize("name", list(ATTACKS))
def test_other_objects_named_in_a_request_are_not_yours(world, name):
    case = ATTACKS[name]
    problems = attempt(world, case.actor, case.method, case.request(world), case.outcome)
    assert not problems, "\n".join(f"{name} ({case.actor}): {p}" for p in problems)


def test_matrix_size(request, record_property, capsys):
    """The size of the matrix, for the record (shown in the run's output whatever its options)."""
    cases = len(ENDPOINT_METHODS) * len(ACTORS)
    line = (
        f"API authorization matrix: {len(ENDPOINTS)} URL patterns, {len(ENDPOINT_METHODS)} pattern × method pairs "
        f"× {len(ACTORS)} actors = {cases} cases; {len(MASS_ASSIGNMENT)} mass-assignment and {len(ATTACKS)} "
        f"other-object cases"
    )
    record_property("authorization_matrix_cases", cases)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        with capsys.disabled():
            reporter.write_line(line)
    assert len(ENDPOINTS) >= 25 and cases >= 25 * 2 * len(ACTORS), line
