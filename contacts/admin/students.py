"""The student's page, extended by the contacts app: its contacts with the staff actions, filters on
contacts, claim-code letters, class posters of mini-program codes, and the roster import and export
(``contacts.resources``).

``schools.admin.students.StudentAdmin`` keeps the roster fields and the audit trail; this module
registers its subclass in its place.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from contacts.admin.claim_codes import issue_claim_codes
from contacts.admin.filters import HasAdminFilter, HasContactFilter
from contacts.admin.mini_program_codes import print_class_posters, print_class_posters_pdf
from contacts.admin.staff_actions import StaffActionsMixin, deactivate_students, revoke_share_links
from contacts.admin.wechat import ReconcileActionMixin, reconcile_now
from contacts.models import Contact
from contacts.resources import StudentResource
from contacts.selectors.contacts import contact_names
from schools.admin.roster import RosterImportExportMixin
from schools.admin.scoping import SchoolScopedInline
from schools.admin.students import StudentAdmin as SchoolsStudentAdmin
from schools.admin.students import StudentAuditInline as SchoolsStudentAuditInline
from schools.models import Student


class StudentContactInline(SchoolScopedInline):
    model = Contact
    fk_name = "student"
    fields = ["parent", "role", "state", "relation", "bound_via", "bound_at", "call_order", "staff_actions"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("parent")

    @admin.display(description=_("staff actions"))
    def staff_actions(self, contact):
        if contact.state == Contact.State.REMOVING:
            return "—"
        remove = reverse("admin:schools_student_remove_contact", args=[contact.student_id, contact.pk])
        links = [format_html('<a href="{}">{}</a>', remove, _("remove…"))]
        if not contact.is_admin:
            transfer = reverse("admin:schools_student_transfer_admin", args=[contact.student_id])
            links.append(format_html('<a href="{}">{}</a>', transfer, _("make admin…")))
        return format_html_join(" · ", "{}", ((link,) for link in links))


class StudentAuditInline(SchoolsStudentAuditInline):
    """The student's audit trail, its contacts named as the school names them (王子涵的妈妈)."""

    def audit_people(self, row) -> dict:
        names = self.__dict__.setdefault("_names", {})  # an inline lives for one request
        if row.student_id not in names:
            names[row.student_id] = contact_names(student=row.student)
        return names[row.student_id]


class StudentAdmin(ReconcileActionMixin, RosterImportExportMixin, StaffActionsMixin, SchoolsStudentAdmin):
    """A student's page: roster fields, its contacts and its audit trail."""

    resource_classes = [StudentResource]  # roster import/export, CSV and XLSX
    list_filter = [*SchoolsStudentAdmin.list_filter, HasContactFilter, HasAdminFilter]
    inlines = [StudentContactInline, StudentAuditInline]
    actions = [
        deactivate_students,
        revoke_share_links,
        issue_claim_codes,
        print_class_posters,
        print_class_posters_pdf,
        "check_against_wechat",
    ]

    @admin.action(description=_("Check contacts against WeChat now"), permissions=["reconcile"])
    def check_against_wechat(self, request, queryset):
        reconcile_now(self, request, list(queryset.values_list("pk", flat=True)))


admin.site.unregister(Student)
admin.site.register(Student, StudentAdmin)
