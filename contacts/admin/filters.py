"""List filters of the contacts app's admins, each on the queryset rule it shows.

The dashboard (``portal.dashboard``) links its per-class counts to
``/admin/schools/student/?class_name=…&has_contacts=no`` and ``…&has_admin=no``, and its share
link counts to ``/admin/contacts/sharelink/?validity=…``; these filters make those links work.
"""

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact


class _ContactExistsFilter(admin.SimpleListFilter):
    """``yes``: the student has at least one matching contact; ``no``: it has none. One ``EXISTS``."""

    contact_filter = Q()  # which contacts count

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        exists = Exists(Contact.objects.filter(self.contact_filter, student_id=OuterRef("pk")))
        if self.value() == "yes":
            return queryset.filter(exists)
        if self.value() == "no":
            return queryset.filter(~exists)
        return queryset


class HasContactFilter(_ContactExistsFilter):
    title = _("has contacts")
    parameter_name = "has_contacts"


class HasAdminFilter(_ContactExistsFilter):
    title = _("has an admin contact")
    parameter_name = "has_admin"
    contact_filter = Q(role=Contact.Role.ADMIN)


class ShareLinkValidityFilter(admin.SimpleListFilter):
    """A link's effective state: usable, expired (swept or not), revoked (``ShareLinkQuerySet``)."""

    title = _("state")
    parameter_name = "validity"

    def lookups(self, request, model_admin):
        return [("active", _("active")), ("expired", _("expired")), ("revoked", _("revoked"))]

    def queryset(self, request, queryset):
        return {
            "active": queryset.usable,
            "expired": queryset.expired,
            "revoked": lambda: queryset.filter(queryset.revoked_q()),
        }.get(self.value(), lambda: queryset)()
