"""Parents' sessions (``contacts.services.parents``): bearer tokens expire, are revoked, and are purged."""

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.models import ParentToken
from contacts.services.parents import parent_login, parent_token_revoke, parent_tokens_purge
from contacts.tasks import purge_expired_tokens

pytestmark = pytest.mark.django_db


def login(openid, settings):
    settings.DEBUG, settings.WECHAT_SANDBOX = True, True
    return parent_login(code=f"sandbox:{openid}")


def test_tokens_are_stored_as_digests_and_purged_a_day_after_expiry_or_revocation(settings):
    results = {name: login(f"o{name}", settings) for name in ("fresh", "expired", "revoked", "old")}
    assert not ParentToken.objects.filter(token_hash=results["fresh"].token).exists()  # only the digest is kept
    now = timezone.now()
    token_of = {name: ParentToken.objects.get(ParentToken.token_q(r.token)) for name, r in results.items()}
    ParentToken.objects.filter(pk=token_of["expired"].pk).update(expires_at=now - timedelta(hours=23))
    ParentToken.objects.filter(pk=token_of["old"].pk).update(expires_at=now - timedelta(days=2))
    parent_token_revoke(token=token_of["revoked"])
    ParentToken.objects.filter(pk=token_of["revoked"].pk).update(revoked_at=now - timedelta(days=2))

    assert parent_tokens_purge() == 2
    assert set(ParentToken.objects.values_list("pk", flat=True)) == {token_of["fresh"].pk, token_of["expired"].pk}
    assert purge_expired_tokens.apply().get() == 0  # the beat task runs the same service: nothing left to purge
