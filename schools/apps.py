from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchoolsConfig(AppConfig):
    name = "schools"
    verbose_name = _("Schools")

    def ready(self):
        # Registers the tasks in every process, so that a task queued by name (a webhook delivery
        # on commit) is the registered one: eager in tests, sent to the broker otherwise.
        from schools import tasks  # noqa: F401

        self._connect_access_token_cache()

    def _connect_access_token_cache(self):
        """Any change of what decides an access token's validity drops the cached lookups
        (``schools.selectors.api_access_token_get``)."""
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from schools.models import ApiClient, ApiClientGrant, School
        from schools.selectors import api_access_token_cache_changed

        # Tokens themselves need no signal: a new one is not cached yet, an entry never outlives its
        # token's expiry, and the one UPDATE that shortens tokens clears the cache itself.
        for model in (ApiClient, ApiClientGrant, School):
            uid = f"api-token-cache-{model.__name__}"
            post_save.connect(api_access_token_cache_changed, sender=model, dispatch_uid=uid)
            post_delete.connect(api_access_token_cache_changed, sender=model, dispatch_uid=f"{uid}-deleted")
        m2m_changed.connect(
            api_access_token_cache_changed, sender=ApiClient.schools.through, dispatch_uid="api-token-m2m"
        )
