from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallsConfig(AppConfig):
    """Device authorization, call policy, pre-call checks, call records and usage."""

    name = "calls"
    verbose_name = _("Calls")
