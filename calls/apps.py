from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallsConfig(AppConfig):
    """Device authorization, call checks and call records (issue 3); empty for now."""

    name = "calls"
    verbose_name = _("Calls")
