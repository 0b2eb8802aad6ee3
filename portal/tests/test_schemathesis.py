"""Schemathesis fuzzes every operation of ``/api/schema/`` in-process, as real actors (issue 10 §2).

The schema is loaded from the portal's own WSGI application (``schemathesis.openapi.from_wsgi``)
and every operation in it is fuzzed, so that a new endpoint is fuzzed the day it appears:
``test_every_api_route_is_in_the_schema`` makes sure none hides from the schema, and each fuzzing
run fails when it covered fewer operations than the schema has.

- Actors, with credentials made by the real services: the parents' operations (``ParentBearer``)
  run as the student's admin contact and as an ordinary contact (bearer tokens from
  ``parent_login`` through the fake WeChat's jscode2session); the vendors' operations
  (``AccessToken``) as an API client granted the school, with an ``access_token`` from ``GET
  /cgi-bin/token``; the operations without security (login, ``/cgi-bin/token``) anonymously.
  Schemathesis generates the credential parameter itself; a generated one is replaced with the
  actor's real one unless it is what a negative case breaks (then it goes as generated, or
  missing, and must be refused).
- Data: ``make_world`` (a row of every model) plus an ordinary contact, a live share link and the
  API client. Half of the positive cases name the world's objects (path, query and body fields
  such as ``user_id``, ``sn``, ``openid_list``: ``known_values``) so that they get past "not
  found"; the other half and the negative cases are schemathesis's own.
- Checks on every answer: no 5xx, a documented status code, content type, headers and body of the
  schema (``CHECKS``); negative cases must be refused with a 4xx (``negative_data_rejection``; the
  WeChat-compatible endpoints too: none answers malformed input with HTTP 200 and an errcode); a
  WeChat-compatible answer (``{errcode, errmsg}``) has errcode 0 only with HTTP 200
  (``check_wechat_errcode``). Throttling keys must be valid memcached keys (``CacheKeyWarning`` is
  an error here). What the fuzzing found is pinned by the tests at the end.
- Each case runs in a savepoint rolled back after it (the WSGI application answers inside the
  test's transaction, ``InTestTransaction``), so the world is the same for every case; the cache
  is cleared before each case, so the abuse limits (``core.throttling``) never answer 429 here
  (their own tests are in ``test_abuse_limits.py``).
- Deterministic and bounded: hypothesis ``derandomize=True``, ``MAX_EXAMPLES`` cases per operation,
  actor and mode, no example database. Each run writes its figures (operations and cases per actor,
  seconds) to the terminal and the JUnit properties; a failure lists every distinct failure and the
  statuses seen per operation.
"""

import json
import time
import warnings
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
import schemathesis
from django.core.cache import cache
from django.core.cache.backends.base import CacheKeyWarning
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.urls import URLResolver, get_resolver, resolve
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from contacts.models import Contact, ShareLink
from contacts.services.parents import parent_login
from contacts.tests.factories import ContactFactory
from portal.tests.worlds import make_world
from schools.services.api_clients import api_client_create
from schools.tests.vendor import get_token

pytestmark = pytest.mark.django_db

SCHEMA_URL = "/api/schema/"
# Cases per operation, actor and mode: 2 modes × (21 parents' operations × 2 actors + 8 others) ×
# MAX_EXAMPLES = 3,000 requests, 30 to 50 s each way on one core.
MAX_EXAMPLES = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]
# Routes that are no API operation: the staff portal, the language switcher, the schema and its UI,
# and the JSON 404 of unknown paths under /api/ (portal.urls.api_not_found).
NOT_OPERATIONS = ("admin/", "i18n/", "api/schema/", "api/docs/", "^api/", "health/")  # probes: not the API


class InTestTransaction(WSGIHandler):
    """Django's WSGI application, answering inside the test's transaction: like Django's test client,
    it does not close the database connection when a request starts and ends."""

    def __call__(self, environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = super().__call__(environ, start_response)
            content = b"".join(response)
            response.close()  # sends request_finished
            return [content]
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


@pytest.fixture
def world(fake_wechat):
    """``make_world`` plus an ordinary contact, a share link, an API client, and each actor's credential."""
    w = make_world("A")
    student, device = w["student"], w["device"]
    admin = Contact.objects.get(student=student, role=Contact.Role.ADMIN).parent
    ordinary = ContactFactory(student=student, parent__openid="oZZAordinary0001", relation="爸爸").parent
    _link, link_token = ShareLink.issue(
        student=student,
        issued_by=admin,
        plugin_path="plugin-private://wxplugin/bind",
        user_name=student.name,
        expires_at=timezone.now() + timedelta(hours=24),
    )
    login_code = {}
    for parent in (admin, ordinary):
        login_code[parent] = f"code-{parent.openid}"
        fake_wechat.sessions[login_code[parent]] = {"openid": parent.openid, "session_key": "k"}
    client, secret = api_client_create(school_ids=[w["school"].pk], name="Fuzz phones Ltd")
    access_token = get_token(APIClient(), client.appid, secret).json()["access_token"]
    credentials = {
        "ParentBearer": {
            actor: ("header", "Authorization", f"Bearer {parent_login(code=login_code[parent]).token}")
            for actor, parent in (("admin_contact", admin), ("ordinary_contact", ordinary))
        },
        "AccessToken": {"api_client": ("query", "access_token", access_token)},
        None: {"anonymous": None},
    }
    known = {
        # path and query parameters
        "user_id": student.user_id,
        "sn": device.sn,
        "model_id": device.model_id,
        "token": link_token,
        "scene": "SceneZZA0000",  # make_world's
        "appid": client.appid,
        "secret": secret,
        # body fields
        "userId": student.user_id,
        "openid": admin.openid,
        "new_admin_openid": ordinary.openid,
        "openid_list": [ordinary.openid],
        "group_id": w["group"].group_id,
        "code": login_code[admin],
    }
    return {"credentials": credentials, "known": known}


def security_scheme(operation) -> str | None:
    """The operation's one security scheme (``ParentBearer``, ``AccessToken``), or None."""
    schemes = {name for requirement in operation.definition.raw.get("security") or [] for name in requirement}
    assert len(schemes) <= 1, (operation.label, schemes)
    return next(iter(schemes), None)


def is_wechat_compatible(operation) -> bool:
    """Whether the operation's view answers WeChat's ``{errcode, errmsg}`` (``WeChatCompatibleApi``)."""
    path = operation.path
    for parameter in operation.path_parameters:
        path = path.replace(f"{{{parameter.name}}}", "x")
    return getattr(resolve(path).func.view_class, "wechat_compatible", False)


def mutated(case) -> set[str]:
    """The parameters a negative case breaks."""
    data = case.meta.phase.data
    names = {getattr(data, "parameter", None)}
    names.update(getattr(m, "parameter", None) for m in getattr(data, "mutations", None) or ())
    return names - {None}


def authenticate(case, credential) -> None:
    """Put the actor's real credential in place of the generated one, unless the case breaks it."""
    if credential is None:
        return
    location, name, value = credential
    container = case.headers if location == "header" else case.query
    if container is not None and name in container and name not in mutated(case):
        container[name] = value


def known_values(operation, mode, known):
    """Cases naming the world's objects: path and query parameters, and for positive cases the body
    fields of ``known`` (the body stays as generated otherwise)."""
    path = {p.name: known[p.name] for p in operation.path_parameters if p.name in known}
    query = {p.name: known[p.name] for p in operation.query if p.name in known}
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path or None, query=query or None)

    def fill_body(case):
        if isinstance(case.body, dict):
            for name, value in known.items():
                if name in case.body:
                    case.body[name] = value
        return case

    return strategy.map(fill_body) if mode.is_positive else strategy


def check_wechat_errcode(case, response) -> str | None:
    """A WeChat-compatible answer has an integer errcode, 0 only with HTTP 200, and an error status
    never says 0 (malformed input is refused with a 4xx: ``negative_data_rejection``). Like WeChat's
    own ``/cgi-bin/token``, a success may carry no errcode at all (errcode 0 then)."""
    body = response.json() if response.content else None
    errcode = body.get("errcode", 0) if isinstance(body, dict) else None
    if not isinstance(errcode, int):
        return "no integer errcode"
    if errcode == 0 and response.status_code != 200:
        return "errcode 0 with an error status"
    return None


class Fuzzing:
    """One mode's run: ``fuzz`` each operation as each actor; counts cases and statuses, keeps the
    first message of each distinct failure ``(operation, actor, status, check, title)``."""

    def __init__(self, mode, known):
        self.mode, self.known = mode, known
        self.checks = NEGATIVE_CHECKS if mode.is_negative else CHECKS
        self.cases, self.statuses, self.failures = Counter(), Counter(), {}

    def fuzz(self, operation, actor, credential):
        wechat = is_wechat_compatible(operation)
        strategy = st.one_of(
            operation.as_strategy(generation_mode=self.mode), known_values(operation, self.mode, self.known)
        )

        @given(case=strategy)
        @hypothesis_settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            authenticate(case, credential)
            cache.clear()  # no abuse limit reached (module docstring)
            with transaction.atomic(), warnings.catch_warnings():
                warnings.simplefilter("error", CacheKeyWarning)
                response = case.call()
                transaction.set_rollback(True)
            self.cases[(actor, operation.label)] += 1
            self.statuses[(operation.label, response.status_code)] += 1
            found = []
            try:
                case.validate_response(response, checks=self.checks)
            except FailureGroup as group:
                found = [(failure.code, failure.title, str(group)) for failure in group.exceptions]
            problem = check_wechat_errcode(case, response) if wechat else None
            if problem:
                found.append(("errcode", problem, f"{problem}: {response.text}\n\n{case.as_curl_command()}"))
            for code, title, message in found:
                self.failures.setdefault((operation.label, actor, response.status_code, code, title), message)

        run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_fuzz_every_operation(world, mode, request, record_property, capsys):
    schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, InTestTransaction())
    operations = [result.ok() for result in schema.get_all_operations()]
    in_schema = {f"{method.upper()} {path}" for path, item in schema.raw_schema["paths"].items() for method in item}
    expected = defaultdict(set)  # actor → the operations it must have fuzzed
    run = Fuzzing(mode, world["known"])
    started = time.monotonic()
    for operation in operations:
        for actor, credential in world["credentials"][security_scheme(operation)].items():
            expected[actor].add(operation.label)
            run.fuzz(operation, actor, credential)
    seconds = time.monotonic() - started

    fuzzed = defaultdict(set)
    for actor, label in run.cases:
        fuzzed[actor].add(label)
    covered = set().union(*fuzzed.values())
    lines = [
        f"schemathesis {mode}: {len(covered)} of {len(in_schema)} operations, {run.cases.total()} cases "
        f"in {seconds:.1f} s; "
        + ", ".join(
            f"{actor} {len(labels)} operations / {sum(n for (a, _), n in run.cases.items() if a == actor)} cases"
            for actor, labels in sorted(fuzzed.items())
        )
    ]
    record_property(f"schemathesis_{mode}_operations", len(covered))
    record_property(f"schemathesis_{mode}_cases", run.cases.total())
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        with capsys.disabled():
            reporter.write_line("\n" + lines[0])
    details = "\n".join(f"  {label} → {status}: {n}" for (label, status), n in sorted(run.statuses.items()))
    failures = "\n".join(f"{'=' * 100}\n{key}\n{message}" for key, message in run.failures.items())

    assert not run.failures, f"{len(run.failures)} distinct failures\n{failures}\n{lines[0]}\n{details}"
    # Every operation of the schema, the parents' as both contacts, the vendors' as the API client.
    assert len(covered) == len(in_schema) == len(operations), lines[0]
    assert dict(fuzzed) == dict(expected), lines[0]
    assert min(run.cases.values()) >= MAX_EXAMPLES // 2, run.cases  # hypothesis really ran each one


def api_routes() -> set[tuple[str, str]]:
    """``(METHOD, /path/{param})`` of every API route in the URLconf, HEAD and OPTIONS aside."""
    found = set()

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith(NOT_OPERATIONS):
                continue
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
                continue
            view = pattern.callback.view_class
            path = "/" + route
            for converter in ("str:", "int:", "slug:", "uuid:", "path:"):
                path = path.replace(f"<{converter}", "<")
            path = path.replace("<", "{").replace(">", "}")
            for method in view.http_method_names:
                if method not in ("head", "options") and hasattr(view, method):
                    found.add((method.upper(), path))

    walk(get_resolver().url_patterns, "")
    return found


def test_every_api_route_is_in_the_schema(client):
    """No endpoint escapes the fuzzing by leaving the schema (``extend_schema(exclude=True)``)."""
    paths = client.get(SCHEMA_URL, HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    in_schema = {(method.upper(), path) for path, item in paths.items() for method in item}
    routes = api_routes()
    assert len(routes) >= 29
    assert routes == in_schema


# What the fuzzing found, pinned: each answered 5xx, broke its schema or accepted malformed input.
CALL_EVENT = {"roomId": "room-fz", "eventName": "startVoip", "user_id": "wxfp_ZZA", "openid": "oZZA"}
FOUND = {
    # PostgreSQL text cannot hold NUL: the raw query parameters reached the database (500).
    "call-plan NUL model_id": ("client", "get", "/api/v1/device/students/wxfp_ZZA/call-plan?model_id=m%00", None),
    # jsonb cannot hold NUL or lone surrogates: the plugin's data reached the database (500).
    "call event NUL in data": ("client", "post", "/api/v1/device/calls/events", {"data": {"k": "\x00"}}),
    "call event NUL data key": ("client", "post", "/api/v1/device/calls/events", {"data": {"\x00": 1}}),
    "call event surrogate": ("client", "post", "/api/v1/device/calls/events", {"data": {"k": ["\ud800"]}}),
    # DRF reads an empty query value of an optional field as absent.
    "events empty cursor": ("client", "get", "/api/v1/device/events?cursor=", None),
    # BooleanField takes 0, 1, "true", "yes"…
    "voip-scope granted 0": ("parent", "put", "/api/v1/me/voip-scope", {"granted": 0}),
    "voip-scope granted 'true'": ("parent", "put", "/api/v1/me/voip-scope", {"granted": "true"}),
    # PageNumberPagination ignored a malformed page_size.
    "calls page_size 0": ("parent", "get", "/api/v1/students/wxfp_ZZA/calls?page_size=0", None),
    "calls page_size 101": ("parent", "get", "/api/v1/students/wxfp_ZZA/calls?page_size=101", None),
    "calls page_size x": ("parent", "get", "/api/v1/students/wxfp_ZZA/calls?page_size=x", None),
}


@pytest.mark.parametrize("name", list(FOUND))
def test_malformed_input_found_by_fuzzing_is_refused(world, name):
    actor, method, path, body = FOUND[name]
    api = APIClient(raise_request_exception=False)
    credential = world["credentials"]["ParentBearer"]["admin_contact"]
    if actor == "parent":
        api.credentials(HTTP_AUTHORIZATION=credential[2])
    else:
        path += ("&" if "?" in path else "?") + f"access_token={world['credentials']['AccessToken']['api_client'][2]}"
        path += "&sn=SN-ZZA" if method == "get" else ""
        body = body and {"sn": "SN-ZZA", "model_id": "mdl_campusphone_v2", **CALL_EVENT, **body}
    # As text: the test client's renderer could not encode a lone surrogate.
    response = api.generic(method.upper(), path, json.dumps(body) if body else "", content_type="application/json")
    assert response.status_code == 400, response.content
    if actor == "client":
        assert response.json()["errcode"] == 47001, response.content


def test_a_parent_who_never_reported_scope_voip_has_no_updated_at(world):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=world["credentials"]["ParentBearer"]["ordinary_contact"][2])
    assert api.get("/api/v1/me/voip-scope").json()["updated_at"] is None


def test_throttle_keys_are_valid_memcached_keys(world):
    """A device's sn with spaces (or anything) is hashed into the throttling key: memcached refuses
    spaces and control characters, which would answer 500 in production."""
    token = world["credentials"]["AccessToken"]["api_client"][2]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        response = APIClient(raise_request_exception=False).get(
            f"/api/v1/device/students/wxfp_ZZA/call-plan?sn=a b\x01c&model_id=m&access_token={token}"
        )
    assert response.status_code in (400, 404), response.content
