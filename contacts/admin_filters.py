"""List filters of the student changelist about its contacts: any contact at all, an admin contact.

The dashboard (``calls.dashboard``, ``portal.admin_site``) links its per-class counts to
``/admin/schools/student/?class_name=…&has_contacts=no`` and ``…&has_admin=no``; these filters
make those links work. Each is one ``EXISTS`` subquery, whatever the number of students.
"""

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from .models import Contact


class _ContactExistsFilter(admin.SimpleListFilter):
    """``yes``: the student has at least one matching contact; ``no``: it has none."""

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
