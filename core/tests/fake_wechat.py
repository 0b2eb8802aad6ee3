"""A local fake of WeChat's server API (REFERENCE.md §5) for tests: a real HTTP server on 127.0.0.1.

Tests script its answers: ``server.sessions[code] = {...}`` for jscode2session,
``server.sn_ticket_answers[sn] = {"errcode": 48001, ...}`` for getsnticket; every request is
recorded in ``server.requests`` as ``(method, path, query, json_body)``.

``GET /cgi-bin/token`` checks ``appid``/``secret`` against ``server.appid``/``server.secret`` and
issues ``fake-token-<n>`` (``tokens_issued`` counts them) valid for ``token_expires_in`` seconds,
after sleeping ``token_delay`` seconds. Every ``POST`` API answers 41001 without an access_token,
40001 for a token it never issued, 42001 for one in ``expired_tokens``.

WeChat's state, with WeChat's rules as the seeds state them:

- Contact binding (seed 003 §2): ``contacts[user_id] = {openid: role}``; ``scope`` holds the
  openids that granted scope.voip. The plugin's calls are methods that return the ``bindContact``
  event type they would report: ``plugin_bind_admin`` (``bindVoipAdminContact``),
  ``plugin_bind_shared`` (the share page), ``plugin_delete`` (``deleteVoipBindContact``: admin
  only, never itself), ``plugin_transfer`` (``transerAdmin``: admin only). ``POST
  /wxa/business/getvoipcontactlist`` reads it (errcode 1: no contact list).
- Device groups (REFERENCE.md §5): ``groups[group_id] = {"group_name", "model_id", "devices"}``;
  ``createid`` (9800012 name not 1-32 bytes), ``adddevice`` (9800013 unknown group, 9800014 another
  device type, 9800015 in another group unless ``force_add``, 9800016 full at ``group_capacity``),
  ``removedevice`` (9800017 not in the group), ``getinfo``.
- Mini-program codes: ``POST /wxa/getwxacodeunlimit`` answers a PNG (a QR of the page and scene),
  kept in ``wxacode_images[scene]``; 40169 for a scene over 32 characters, 41030 for a page not in
  ``published_pages`` when ``check_path`` is true; ``wxacode_answers[scene] = {...}`` scripts an
  answer (an error, usually).
"""

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

import segno

from core.tests.local_server import LocalHTTPServer
from core.wechat.errcodes import ErrCode, envelope


class FakeWeChat(LocalHTTPServer):
    def __init__(self):
        super().__init__(_Handler)
        self.sessions: dict[str, dict] = {}  # js_code -> answer body
        self.requests: list[tuple[str, str, dict, dict | None]] = []
        self.raw_answer: tuple[int, bytes] | None = None  # force a status and body for every request
        # /cgi-bin/token
        self.appid = "wx_test_appid"  # portal.settings.test.WECHAT_APPID
        self.secret = "wx_test_secret"  # portal.settings.test.WECHAT_SECRET
        self.token_expires_in = 7200  # seconds
        self.token_delay = 0.0  # seconds to sleep before answering /cgi-bin/token
        self.tokens_issued = 0
        self.valid_tokens: set[str] = set()
        self.expired_tokens: set[str] = set()  # tokens getsnticket answers 42001 for
        # /wxa/getsnticket
        self.sn_ticket_answers: dict[str, dict] = {}  # sn -> answer body (an error, usually)
        # contact binding (seed 003 §2)
        self.contacts: dict[str, dict[str, int]] = {}  # user_id -> {openid: role}
        self.scope: set[str] = set()  # openids that granted scope.voip
        self.contact_limit = 10  # WeChat's own limit (the docs give no number)
        # device groups
        self.groups: dict[str, dict] = {}
        self.group_capacity = 50
        # mini-program codes
        self.published_pages: set[str] = {"pages/bind-admin/index"}
        self.wxacode_answers: dict[str, dict] = {}  # scene -> answer body (an error, usually)
        self.wxacode_images: dict[str, bytes] = {}  # scene -> the image last served for it
        self.wxacodes_issued = 0
        self.lock = threading.Lock()

    def paths(self) -> list[str]:
        """The paths requested so far, in order."""
        return [path for _method, path, _query, _body in self.requests]

    # --- the plugin, in a parent's WeChat (seed 003 §2.1-§2.5) --------------------------------------

    def plugin_bind_admin(self, user_id: str, openid: str) -> str:
        """``bindVoipAdminContact``: the first contact becomes the admin."""
        with self.lock:
            contacts = self.contacts.setdefault(user_id, {})
            if openid not in self.scope:
                return "auth"
            if openid in contacts:
                return "binded"
            if 1 in contacts.values():
                return "invalid"
            if len(contacts) >= self.contact_limit:
                return "overload"
            contacts[openid] = 1
            return "success"

    def plugin_bind_shared(self, user_id: str, openid: str, *, shared_by: str, expired: bool = False) -> str:
        """The plugin's bind page opened from the admin's share: ``invalid`` unless ``shared_by`` is the admin."""
        with self.lock:
            contacts = self.contacts.setdefault(user_id, {})
            if expired:
                return "expire"
            if contacts.get(shared_by) != 1:
                return "invalid"
            if openid not in self.scope:
                return "auth"
            if openid in contacts:
                return "binded"
            if len(contacts) >= self.contact_limit:
                return "overload"
            contacts[openid] = 0
            return "success"

    def plugin_delete(self, user_id: str, admin_openid: str, openid_list: list[str]) -> str:
        """``deleteVoipBindContact``: only the admin, never itself (seed 003 §2.3)."""
        with self.lock:
            contacts = self.contacts.get(user_id, {})
            if contacts.get(admin_openid) != 1:
                raise PermissionError("only the administrator may delete contacts")
            if admin_openid in openid_list:
                raise PermissionError("the administrator cannot delete itself")
            for openid in openid_list:
                contacts.pop(openid, None)
            return "cancel"

    def plugin_transfer(self, user_id: str, admin_openid: str, new_admin_openid: str) -> None:
        """``transerAdmin``: only the admin, to one of the student's contacts (seed 003 §2.4)."""
        with self.lock:
            contacts = self.contacts.get(user_id, {})
            if contacts.get(admin_openid) != 1 or new_admin_openid not in contacts:
                raise PermissionError("only the administrator may transfer, to a contact")
            contacts[admin_openid], contacts[new_admin_openid] = 0, 1

    def issue_token(self) -> dict:
        with self.lock:
            self.tokens_issued += 1
            token = f"fake-token-{self.tokens_issued}"
            self.valid_tokens.add(token)
        return {"access_token": token, "expires_in": self.token_expires_in}


class _Handler(BaseHTTPRequestHandler):
    server: FakeWeChat

    def log_message(self, *args):  # keep test output quiet
        pass

    def _answer(self, status: int, body: dict | bytes):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self, method: str, body: dict | None = None) -> tuple[str, dict]:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self.server.lock:
            self.server.requests.append((method, url.path, query, body))
        return url.path, query

    def do_GET(self):
        path, query = self._record("GET")
        if self.server.raw_answer is not None:
            return self._answer(*self.server.raw_answer)
        if path == "/sns/jscode2session":
            if query.get("grant_type") != "authorization_code" or not query.get("appid") or not query.get("secret"):
                return self._answer(200, envelope(ErrCode.INVALID_APPID))
            answer = self.server.sessions.get(query.get("js_code", ""), envelope(ErrCode.INVALID_CODE))
            return self._answer(200, answer)
        if path == "/cgi-bin/token":
            if self.server.token_delay:
                time.sleep(self.server.token_delay)
            if query.get("grant_type") != "client_credential":
                return self._answer(200, envelope(ErrCode.INVALID_GRANT_TYPE))
            if query.get("appid") != self.server.appid:
                return self._answer(200, envelope(ErrCode.INVALID_APPID))
            if query.get("secret") != self.server.secret:
                return self._answer(200, envelope(ErrCode.INVALID_CREDENTIAL, "invalid credential, secret is wrong"))
            return self._answer(200, self.server.issue_token())
        return self._answer(404, {"errcode": 404, "errmsg": "not found"})

    def _token_error(self, query: dict) -> dict | None:
        token = query.get("access_token")
        if not token:
            return envelope(ErrCode.TOKEN_MISSING)
        if token in self.server.expired_tokens:
            return envelope(ErrCode.TOKEN_EXPIRED)
        if token not in self.server.valid_tokens:
            return envelope(ErrCode.INVALID_CREDENTIAL)
        return None

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path, query = self._record("POST", body)
        if self.server.raw_answer is not None:
            return self._answer(*self.server.raw_answer)
        token_error = self._token_error(query)
        if token_error is not None:
            return self._answer(200, token_error)
        handler = {
            "/wxa/business/getvoipcontactlist": self._contact_list,
            "/wxa/business/group/createid": self._group_create,
            "/wxa/business/group/adddevice": self._group_add,
            "/wxa/business/group/removedevice": self._group_remove,
            "/wxa/business/group/getinfo": self._group_info,
            "/wxa/getwxacodeunlimit": self._wxacode,
        }.get(path)
        if handler is not None:
            if not isinstance(body, dict):
                return self._answer(200, envelope(ErrCode.BAD_DATA))
            with self.server.lock:
                answer = handler(body)
            return self._answer(200, answer) if isinstance(answer, dict) else self._image(answer)
        if path == "/wxa/getsnticket":
            if (
                not isinstance(body, dict)
                or not isinstance(body.get("sn"), str)
                or not isinstance(body.get("model_id"), str)
            ):
                return self._answer(200, envelope(ErrCode.BAD_DATA))
            answer = self.server.sn_ticket_answers.get(body["sn"])
            if answer is not None:
                return self._answer(200, answer)
            return self._answer(200, envelope(ErrCode.OK, sn_ticket=f"ticket-{body['sn']}"))
        return self._answer(404, {"errcode": 404, "errmsg": "not found"})

    def _image(self, data: bytes):
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # --- the APIs, under the server's lock -------------------------------------------------------------

    def _contact_list(self, body: dict) -> dict:
        if not isinstance(body.get("user_id"), str):
            return envelope(ErrCode.BAD_DATA)
        contacts = self.server.contacts.get(body["user_id"], {})
        if not contacts:
            return envelope(ErrCode.NO_CONTACT_LIST)
        return envelope(ErrCode.OK, contact_list=[{"open_id": o, "role": r} for o, r in contacts.items()])

    def _group_create(self, body: dict) -> dict:
        name = body.get("group_name")
        if not isinstance(name, str) or not 1 <= len(name.encode()) <= 32:
            return envelope(ErrCode.GROUP_NAME_INVALID)
        group_id = f"grp_fake_{len(self.server.groups) + 1:04d}"
        self.server.groups[group_id] = {"group_name": name, "model_id": body.get("model_id"), "devices": []}
        return envelope(ErrCode.OK, group_id=group_id)

    def _devices(self, body: dict) -> list[tuple[str, str]]:
        return [(d.get("sn"), d.get("model_id")) for d in body.get("device_list") or [] if isinstance(d, dict)]

    def _group_add(self, body: dict) -> dict:
        group = self.server.groups.get(body.get("group_id"))
        if group is None:
            return envelope(ErrCode.GROUP_ID_INVALID)
        devices = self._devices(body)
        if any(model_id != group["model_id"] for _sn, model_id in devices):
            return envelope(ErrCode.GROUP_TYPE_MISMATCH)
        elsewhere = {
            device: gid for gid, g in self.server.groups.items() if gid != body["group_id"] for device in g["devices"]
        }
        if any(device in elsewhere for device in devices) and not body.get("force_add"):
            return envelope(ErrCode.GROUP_DEVICE_IN_ANOTHER)
        new = [device for device in devices if device not in group["devices"]]
        if len(group["devices"]) + len(new) > self.server.group_capacity:
            return envelope(ErrCode.GROUP_FULL)
        for device in new:
            if device in elsewhere:
                self.server.groups[elsewhere[device]]["devices"].remove(device)
            group["devices"].append(device)
        return envelope(ErrCode.OK)

    def _group_remove(self, body: dict) -> dict:
        group = self.server.groups.get(body.get("group_id"))
        if group is None:
            return envelope(ErrCode.GROUP_ID_INVALID)
        devices = self._devices(body)
        if any(device not in group["devices"] for device in devices):
            return envelope(ErrCode.GROUP_DEVICE_NOT_IN)
        for device in devices:
            group["devices"].remove(device)
        return envelope(ErrCode.OK)

    def _group_info(self, body: dict) -> dict:
        group = self.server.groups.get(body.get("group_id"))
        if group is None:
            return envelope(ErrCode.GROUP_ID_INVALID)
        devices = [{"sn": sn, "model_id": model_id} for sn, model_id in group["devices"]]
        return envelope(ErrCode.OK, group_name=group["group_name"], model_id=group["model_id"], device_list=devices)

    def _wxacode(self, body: dict) -> dict | bytes:
        scene, page = body.get("scene"), body.get("page")
        if not isinstance(scene, str) or not 1 <= len(scene) <= 32:
            return envelope(ErrCode.SCENE_INVALID)
        if scene in self.server.wxacode_answers:
            return self.server.wxacode_answers[scene]
        if body.get("check_path", True) and page not in self.server.published_pages:
            return envelope(ErrCode.PAGE_NOT_PUBLISHED)
        self.server.wxacodes_issued += 1
        out = io.BytesIO()
        segno.make(f"wxacode:{page}?scene={scene}").save(out, kind="png", scale=4)
        self.server.wxacode_images[scene] = out.getvalue()
        return out.getvalue()
