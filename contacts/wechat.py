"""The portal's client of WeChat's server API (REFERENCE.md §5).

Only this module talks HTTP to WeChat; tests point ``WECHAT_API_BASE_URL`` at a local fake server.
"""
from dataclasses import dataclass

import requests
from django.conf import settings

ERRCODE_BUSY = -1
ERRCODE_INVALID_CODE = 40029  # jscode2session: invalid js_code
ERRCODE_CODE_USED = 40163  # jscode2session: code been used
ERRCODE_RATE_LIMITED = 45011  # jscode2session: minute-quota reached

_session = requests.Session()


class WeChatError(Exception):
    """WeChat answered ``errcode`` ≠ 0."""

    def __init__(self, errcode: int, errmsg: str):
        super().__init__(f"WeChat errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


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
        try:
            response = _session.get(f"{self.base_url}{path}", params=params, timeout=self.timeout)
            response.raise_for_status()
            data = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise WeChatUnavailable(ERRCODE_BUSY, f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(data, dict):
            raise WeChatUnavailable(ERRCODE_BUSY, "unexpected answer")
        errcode = data.get("errcode") or 0
        if errcode == ERRCODE_BUSY:
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
            raise WeChatUnavailable(ERRCODE_BUSY, "jscode2session answered without openid")
        return Session(openid=openid, unionid=data.get("unionid") or "")
