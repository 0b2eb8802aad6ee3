"""The admin app with the portal's own site (``portal.admin_site.PortalAdminSite``) as ``admin.site``."""

from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    default_site = "portal.admin_site.PortalAdminSite"
