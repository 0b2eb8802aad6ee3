"""The portal's client of WeChat's server API (REFERENCE.md §5); errcodes in ``core.wechat.errcodes``.

Only this module talks HTTP to WeChat; tests point ``WECHAT_API_BASE_URL`` at a local fake server.
The portal's own ``access_token`` lives in Django's cache, shared by every worker (``access_token``).
"""

import math
import time
import uuid
from dataclasses import dataclass

import requests
import structlog
from django.conf import settings
from django.core.cache import cache

from core.wechat.errcodes import TOKEN_ERRCODES, ErrCode

ACCESS_TOKEN_MARGIN = 300  # seconds: the cached token is dropped this long before WeChat expires it
ACCESS_TOKEN_MIN_TTL = 60  # seconds: shortest time a token is cached
ACCESS_TOKEN_DEFAULT_EXPIRES_IN = 7200  # seconds (REFERENCE.md §5), when WeChat leaves it out
LOCK_POLL_INTERVAL = 0.05  # seconds between cache reads of a caller waiting for another's refresh

_session = requests.Session()
logger = structlog.get_logger(__name__)


class WeChatError(Exception):
    """WeChat answered ``errcode`` ≠ 0."""

    def __init__(self, errcode: int, errmsg: str):
        super().__init__(f"WeChat errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    def __reduce__(self):  # picklable, for Celery's retries and results
        return type(self), (self.errcode, self.errmsg)


class WeChatUnavailable(WeChatError):
    """WeChat could not be reached, timed out, answered garbage, or said it is busy (-1)."""


@dataclass(frozen=True)
class Session:
    """What ``jscode2session`` returns that the portal keeps; ``session_key`` never leaves the server."""

    openid: str
    unionid: str = ""


class WeChatClient:
    """A small client: base URL, appid, secret and timeout (seconds) come from settings."""

    def __init__(self, *, base_url: str, appid: str, secret: str, timeout: float):
        self.base_url = base_url.rstrip("/")
        self.appid = appid
        self.secret = secret
        self.timeout = timeout

    @classmethod
    def from_settings(cls) -> "WeChatClient":
        return cls(
            base_url=settings.WECHAT_API_BASE_URL,
            appid=settings.WECHAT_APPID,
            secret=settings.WECHAT_SECRET,
            timeout=settings.WECHAT_TIMEOUT,
        )

    def _get(self, path: str, params: dict) -> dict:
        return self._request("GET", path, params)

    def _post(self, path: str, params: dict, body: dict) -> dict:
        return self._request("POST", path, params, body)

    def _request(self, method: str, path: str, params: dict, body: dict | None = None, *, binary: bool = False):
        """One HTTP request → its JSON object, or (``binary``) its bytes when WeChat answers other than JSON.

        Every failure is logged (``wechat_request_failed`` at WARNING: ``method``, ``path``,
        ``errcode``, ``errmsg``, ``unavailable``, ``latency_ms``) before it is raised; a success is
        logged at DEBUG (``wechat_request``). Query values (the secret, access_token) never are.
        """
        started = time.monotonic()
        try:
            result = self._request_once(method, path, params, body, binary=binary)
        except WeChatError as exc:
            logger.warning(
                "wechat_request_failed",
                method=method,
                path=path,
                errcode=exc.errcode,
                errmsg=exc.errmsg,
                unavailable=isinstance(exc, WeChatUnavailable),
                latency_ms=round((time.monotonic() - started) * 1000, 1),
            )
            raise
        latency_ms = round((time.monotonic() - started) * 1000, 1)
        logger.debug("wechat_request", method=method, path=path, latency_ms=latency_ms)
        return result

    def _request_once(self, method: str, path: str, params: dict, body: dict | None, *, binary: bool):
        try:
            response = _session.request(
                method, f"{self.base_url}{path}", params=params, json=body, timeout=self.timeout
            )
            response.raise_for_status()
            if binary and not response.headers.get("Content-Type", "").startswith(("application/json", "text/")):
                return response.content
            data = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise WeChatUnavailable(ErrCode.BUSY, f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(data, dict):
            raise WeChatUnavailable(ErrCode.BUSY, "unexpected answer")
        errcode = data.get("errcode") or 0
        if errcode == ErrCode.BUSY:
            raise WeChatUnavailable(errcode, data.get("errmsg", "system busy"))
        if errcode:
            raise WeChatError(errcode, data.get("errmsg", ""))
        return data

    def jscode2session(self, code: str) -> Session:
        """Exchange a ``wx.login`` code (single use, 5 minutes) for the user's openid.

        ``GET /sns/jscode2session`` (REFERENCE.md §5). Raises ``WeChatError`` (40029, 40163,
        45011, …) or ``WeChatUnavailable`` (-1, network, timeout).
        """
        data = self._get(
            "/sns/jscode2session",
            {"appid": self.appid, "secret": self.secret, "js_code": code, "grant_type": "authorization_code"},
        )
        openid = data.get("openid")
        if not isinstance(openid, str) or not openid:
            raise WeChatUnavailable(ErrCode.BUSY, "jscode2session answered without openid")
        return Session(openid=openid, unionid=data.get("unionid") or "")

    # --- The portal's access_token --------------------------------------------------------------

    @property
    def _token_key(self) -> str:
        return f"wechat:access_token:{self.appid}"

    def access_token(self) -> str:
        """The portal's own ``access_token`` (``GET /cgi-bin/token``, REFERENCE.md §5), from the cache.

        Cached under ``wechat:access_token:<appid>`` for ``expires_in`` − 300 s (at least 60 s).
        On a miss one caller at a time refreshes it: the one that wins ``cache.add`` of the lock
        key asks WeChat; the others poll the cache every 50 ms for up to ``timeout`` seconds and
        take that caller's token. Raises ``WeChatError`` (40013 invalid appid, 40001 wrong
        secret, …) or ``WeChatUnavailable`` (-1, network, timeout, or a refresh by another caller
        that failed or did not finish in time).
        """
        token = cache.get(self._token_key)
        if token:
            return token
        lock_key = f"{self._token_key}:lock"
        holder = uuid.uuid4().hex
        # The lock outlives one HTTP request, so that it only expires if its holder died.
        if cache.add(lock_key, holder, timeout=math.ceil(self.timeout) + 5):
            try:
                return cache.get(self._token_key) or self._fetch_access_token()
            finally:
                if cache.get(lock_key) == holder:
                    cache.delete(lock_key)
        deadline = time.monotonic() + self.timeout
        while True:
            time.sleep(LOCK_POLL_INTERVAL)
            refreshing = cache.get(lock_key) is not None  # read before the token: the holder stores, then unlocks
            token = cache.get(self._token_key)
            if token:
                return token
            if not refreshing:
                raise WeChatUnavailable(ErrCode.BUSY, "another caller failed to refresh the access_token")
            if time.monotonic() >= deadline:
                raise WeChatUnavailable(ErrCode.BUSY, "timed out waiting for another caller's access_token refresh")

    def _fetch_access_token(self) -> str:
        data = self._get(
            "/cgi-bin/token", {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        )
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeChatUnavailable(ErrCode.BUSY, "/cgi-bin/token answered without access_token")
        expires_in = data.get("expires_in", ACCESS_TOKEN_DEFAULT_EXPIRES_IN)
        if isinstance(expires_in, bool) or not isinstance(expires_in, int):
            expires_in = ACCESS_TOKEN_DEFAULT_EXPIRES_IN
        cache.set(self._token_key, token, timeout=max(expires_in - ACCESS_TOKEN_MARGIN, ACCESS_TOKEN_MIN_TTL))
        return token

    def forget_access_token(self, token: str) -> None:
        """Drop the cached ``access_token`` if it still is ``token`` (a newer one is kept)."""
        if cache.get(self._token_key) == token:
            cache.delete(self._token_key)

    def _post_with_token(self, path: str, body: dict, *, binary: bool = False):
        """POST ``body`` to ``path?access_token=`` with the portal's own token; when WeChat rejects the
        token (40001, 42001) it is dropped and the call retried once with a new one."""
        for attempt in range(2):
            token = self.access_token()
            try:
                return self._request("POST", path, {"access_token": token}, body, binary=binary)
            except WeChatError as exc:
                if exc.errcode not in TOKEN_ERRCODES:
                    raise
                self.forget_access_token(token)  # a rejected token is never kept
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # --- Device VoIP ----------------------------------------------------------------------------

    def get_sn_ticket(self, sn: str, model_id: str) -> str:
        """The ``snTicket`` (valid 5 minutes) that ``wx.requestDeviceVoIP`` needs for device ``(sn, model_id)``.

        ``POST /wxa/getsnticket?access_token=`` ``{sn, model_id}`` → ``{errcode, errmsg, sn_ticket}``
        (REFERENCE.md §5, seed 000 §1). Raises ``WeChatError`` (48001 api unauthorized, 9800001 sn
        too long, 9800002 bad characters in sn, 9800003 model_id check failed, 40001/42001 twice in
        a row, …) or ``WeChatUnavailable`` (-1, network, timeout).
        """
        data = self._post_with_token("/wxa/getsnticket", {"sn": sn, "model_id": model_id})
        ticket = data.get("sn_ticket")
        if not isinstance(ticket, str) or not ticket:
            raise WeChatUnavailable(ErrCode.BUSY, "getsnticket answered without sn_ticket")
        return ticket

    # --- Contact binding (seed 003 §2.2) ---------------------------------------------------------

    def get_voip_contact_list(self, user_id: str) -> list[tuple[str, int]]:
        """WeChat's contacts of the student ``user_id``: ``[(openid, role)]``, role 1 the admin.

        ``POST /wxa/business/getvoipcontactlist?access_token=`` ``{user_id}`` → ``{errcode, errmsg,
        contact_list: [{open_id, role}]}``; errcode 1 (no contact list) answers ``[]``. Raises
        ``WeChatError`` or ``WeChatUnavailable`` as ``get_sn_ticket``.
        """
        try:
            data = self._post_with_token("/wxa/business/getvoipcontactlist", {"user_id": user_id})
        except WeChatError as exc:
            if exc.errcode == ErrCode.NO_CONTACT_LIST:
                return []
            raise
        entries = data.get("contact_list")
        if not isinstance(entries, list):
            raise WeChatUnavailable(ErrCode.BUSY, "getvoipcontactlist answered without contact_list")
        try:
            return [(str(e["open_id"]), int(e["role"])) for e in entries]
        except (KeyError, TypeError, ValueError) as exc:
            raise WeChatUnavailable(ErrCode.BUSY, f"getvoipcontactlist answered a malformed entry: {exc}") from exc

    # --- Device groups (REFERENCE.md §5) -----------------------------------------------------------

    def group_create(self, *, model_id: str, group_name: str) -> str:
        """``/wxa/business/group/createid`` ``{model_id, group_name}`` → the new ``group_id``.

        Raises ``WeChatError`` (9800012 bad name, …) or ``WeChatUnavailable``.
        """
        data = self._post_with_token("/wxa/business/group/createid", {"model_id": model_id, "group_name": group_name})
        group_id = data.get("group_id")
        if not isinstance(group_id, str) or not group_id:
            raise WeChatUnavailable(ErrCode.BUSY, "group/createid answered without group_id")
        return group_id

    def group_add_devices(self, *, group_id: str, devices: list[tuple[str, str]], force_add: bool = False) -> None:
        """``/wxa/business/group/adddevice`` ``{group_id, device_list: [{model_id, sn}], force_add}``.

        ``devices``: ``[(sn, model_id)]``. Raises ``WeChatError`` (9800013 bad group_id, 9800014 device
        type mismatch, 9800015 already in a group, 9800016 group full) or ``WeChatUnavailable``.
        """
        device_list = [{"model_id": model_id, "sn": sn} for sn, model_id in devices]
        self._post_with_token(
            "/wxa/business/group/adddevice", {"group_id": group_id, "device_list": device_list, "force_add": force_add}
        )

    def group_remove_devices(self, *, group_id: str, devices: list[tuple[str, str]]) -> None:
        """``/wxa/business/group/removedevice`` ``{group_id, device_list}``; 9800017: not in the group."""
        device_list = [{"model_id": model_id, "sn": sn} for sn, model_id in devices]
        self._post_with_token("/wxa/business/group/removedevice", {"group_id": group_id, "device_list": device_list})

    def group_info(self, group_id: str) -> dict:
        """``/wxa/business/group/getinfo`` ``{group_id}`` → ``{group_name, model_id, devices: [(sn, model_id)]}``."""
        data = self._post_with_token("/wxa/business/group/getinfo", {"group_id": group_id})
        devices = data.get("device_list") or []
        return {
            "group_name": data.get("group_name", ""),
            "model_id": data.get("model_id", ""),
            "devices": [(str(d.get("sn", "")), str(d.get("model_id", ""))) for d in devices if isinstance(d, dict)],
        }

    # --- Mini-program codes ----------------------------------------------------------------------

    def get_wxacode_unlimited(
        self, *, scene: str, page: str, env_version: str = "release", check_path: bool = False
    ) -> bytes:
        """A mini-program code opening ``page`` with ``scene`` (≤ 32 characters): the image bytes.

        ``POST /wxa/getwxacodeunlimit?access_token=`` ``{scene, page, check_path, env_version}``
        answers the image (JPEG, or PNG), or ``{errcode, errmsg}`` raised as ``WeChatError`` (40169
        scene invalid, 41030 page not published while ``check_path``, …). ``env_version``:
        ``release`` | ``trial`` | ``develop``; ``check_path`` asks WeChat to check that ``page``
        exists in the released mini-program.
        """
        image = self._post_with_token(
            "/wxa/getwxacodeunlimit",
            {"scene": scene, "page": page.lstrip("/"), "check_path": check_path, "env_version": env_version},
            binary=True,
        )
        if not isinstance(image, bytes) or not image:
            raise WeChatUnavailable(ErrCode.BUSY, "getwxacodeunlimit answered without an image")
        return image
