from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchoolsConfig(AppConfig):
    name = "schools"
    verbose_name = _("Schools")

    def ready(self):
        # Registers the tasks in every process, so that a task queued by name (a webhook delivery
        # on commit) is the registered one: eager in tests, sent to the broker otherwise.
        from schools import tasks  # noqa: F401
