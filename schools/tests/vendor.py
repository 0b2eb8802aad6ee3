"""Helpers of the tests of the vendors' WeChat-compatible API (REFERENCE.md §5)."""

TOKEN = "/cgi-bin/token"


def get_token(api, appid, secret, grant_type="client_credential"):
    """``GET /cgi-bin/token`` with the given parameters (None leaves one out)."""
    params = {"grant_type": grant_type, "appid": appid, "secret": secret}
    return api.get(TOKEN, {k: v for k, v in params.items() if v is not None})


def assert_wechat_error(response, errcode, status) -> dict:
    """The answer is WeChat's ``{errcode, errmsg}`` with ``errcode`` and HTTP ``status``; returns the body."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"errcode", "errmsg"}, body
    assert body["errcode"] == errcode, body
    assert isinstance(body["errmsg"], str) and body["errmsg"]
    return body
