"""``GET /cgi-bin/token`` for device vendors' backends (REFERENCE.md §5): every error answers
WeChat's ``{errcode, errmsg}`` with a 4xx status."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.tokens import token_hash
from schools.models import ApiAccessToken
from schools.selectors import api_access_token_get
from schools.services.api_clients import api_client_create, api_client_issue_secret
from schools.tests.vendor import assert_wechat_error, get_token

pytestmark = pytest.mark.django_db


def test_token_success_returns_access_token_and_7200(api, vendor):
    client, secret = vendor

    response = get_token(api, client.appid, secret)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access_token", "expires_in"}
    assert body["expires_in"] == 7200
    stored = ApiAccessToken.objects.get(client=client)
    assert stored.token_hash == token_hash(body["access_token"])
    assert not ApiAccessToken.objects.filter(token_hash=body["access_token"]).exists()
    assert abs(stored.expires_at - (timezone.now() + timedelta(seconds=7200))) < timedelta(minutes=1)


def test_secret_is_stored_only_as_a_digest(vendor):
    client, secret = vendor

    client.refresh_from_db()

    assert client.secret_hash == token_hash(secret)
    assert secret not in repr(client.__dict__)


def test_each_token_request_issues_a_distinct_valid_token(api, vendor):
    client, secret = vendor

    first = get_token(api, client.appid, secret).json()["access_token"]
    second = get_token(api, client.appid, secret).json()["access_token"]

    assert first != second
    assert ApiAccessToken.objects.filter(client=client).count() == 2


@pytest.mark.parametrize(
    "grant_type", ["authorization_code", "", "CLIENT_CREDENTIAL", None], ids=["other", "empty", "case", "missing"]
)
def test_wrong_grant_type_is_40002(api, vendor, grant_type):
    client, secret = vendor

    assert_wechat_error(get_token(api, client.appid, secret, grant_type=grant_type), 40002, 400)
    assert not ApiAccessToken.objects.exists()


@pytest.mark.parametrize("appid", [None, ""], ids=["absent", "empty"])
def test_missing_appid_is_41002(api, vendor, appid):
    _client, secret = vendor

    assert_wechat_error(get_token(api, appid, secret), 41002, 400)
    assert not ApiAccessToken.objects.exists()


@pytest.mark.parametrize("secret", [None, ""], ids=["absent", "empty"])
def test_missing_secret_is_41004(api, vendor, secret):
    client, _secret = vendor

    assert_wechat_error(get_token(api, client.appid, secret), 41004, 400)
    assert not ApiAccessToken.objects.exists()


@pytest.mark.parametrize("appid", ["wx0000000000000000", "x" * 500, "wx\x00nul"], ids=["unknown", "long", "nul-byte"])
def test_unknown_appid_answers_like_a_wrong_secret(api, vendor, appid):
    """One answer for an unknown appid and a wrong secret: appids cannot be enumerated (issue 9 §4)."""
    client, secret = vendor

    unknown = assert_wechat_error(get_token(api, appid, secret), 40001, 401)
    wrong = assert_wechat_error(get_token(api, client.appid, secret + "x"), 40001, 401)
    assert unknown == wrong
    assert not ApiAccessToken.objects.exists()


def test_wrong_secret_is_40001(api, vendor):
    client, secret = vendor

    assert_wechat_error(get_token(api, client.appid, secret + "x"), 40001, 401)
    assert_wechat_error(get_token(api, client.appid, token_hash(secret)), 40001, 401)
    assert not ApiAccessToken.objects.exists()


def test_secret_of_another_client_is_40001(api, vendor, school):
    client, _secret = vendor
    _other, other_secret = api_client_create(school_ids=[school.pk], name="Another vendor")

    assert_wechat_error(get_token(api, client.appid, other_secret), 40001, 401)


def test_inactive_client_is_40001(api, vendor):
    client, secret = vendor
    client.is_active = False
    client.save(update_fields=["is_active"])

    assert_wechat_error(get_token(api, client.appid, secret), 40001, 401)
    assert not ApiAccessToken.objects.exists()


def test_client_of_an_inactive_school_is_40001(api, vendor, school):
    client, secret = vendor
    school.is_active = False
    school.save(update_fields=["is_active"])

    assert_wechat_error(get_token(api, client.appid, secret), 40001, 401)


def test_reissued_secret_replaces_the_old_one_and_its_tokens(api, vendor):
    client, old_secret = vendor
    old_token = get_token(api, client.appid, old_secret).json()["access_token"]

    new_secret = api_client_issue_secret(client=client)

    assert new_secret != old_secret
    assert_wechat_error(get_token(api, client.appid, old_secret), 40001, 401)
    assert api_access_token_get(token=old_token) is None  # the vendor API answers it 40001
    response = get_token(api, client.appid, new_secret)
    assert response.status_code == 200, response.content
    assert response.json()["expires_in"] == 7200
