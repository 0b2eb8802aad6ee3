from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = _("Contacts")

    def ready(self):
        # Registers the tasks in every process, so that a task queued by name (the WeChat check
        # after a report) is the registered one: eager in tests, sent to the broker otherwise.
        from contacts import (
            resources,  # noqa: F401  (registers the students' roster resource)
            roster_copy,  # noqa: F401  (registers the students' COPY importer)
            tasks,  # noqa: F401
        )
