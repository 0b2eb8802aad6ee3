"""The admin app with the portal's own site (``portal.admin_site.PortalAdminSite``) as ``admin.site``."""

from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    default_site = "portal.admin_site.PortalAdminSite"

    def ready(self):
        super().ready()
        from django_structlog import signals

        from core.logging import add_request_id_header

        # Every answer, failures included, names its request id (X-Request-ID).
        signals.bind_extra_request_finished_metadata.connect(add_request_id_header, dispatch_uid="request-id")
        signals.update_failure_response.connect(add_request_id_header, dispatch_uid="request-id-failure")
