"""The student's page, extended by the contacts app: its contacts with the staff actions, filters on
contacts, claim-code letters, class posters of mini-program codes, and the roster import and export
(``contacts.resources``).

``schools.admin.students.StudentAdmin`` keeps the roster fields and the audit trail; this module
registers its subclass in its place.
"""

from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from contacts.admin.claim_codes import issue_claim_codes
from contacts.admin.filters import HasAdminFilter, HasContactFilter
from contacts.admin.mini_program_codes import print_class_posters, print_class_posters_pdf
from contacts.admin.staff_actions import StaffActionsMixin, deactivate_students, revoke_share_links
from contacts.admin.wechat import ReconcileActionMixin, reconcile_now
from contacts.models import Contact
from contacts.resources import StudentResource
from contacts.selectors.classes import CLAIM_USABLE, class_overview
from contacts.selectors.contacts import contact_names
from schools.admin.roster import RosterImportExportMixin
from schools.admin.scoping import SchoolScopedInline, list_class_vocabulary, list_school_id
from schools.admin.students import StudentAdmin as SchoolsStudentAdmin
from schools.admin.students import StudentAuditInline as SchoolsStudentAuditInline
from schools.models import School, Student
from schools.tenancy import ALL_SCHOOLS, NO_SCHOOL, staff_school_id


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

    change_list_template = "admin/contacts/student_change_list.html"  # the class page; import-export wraps it

    def get_urls(self):
        view = self.admin_site.admin_view(self.class_view)
        return [path("class/", view, name="schools_student_class"), *super().get_urls()]

    def class_view(self, request):
        """A class at a glance (``contacts.selectors.classes.class_overview``): per student its contacts,
        admin and claim code, with one button that prints the class's letters (the claim-code action,
        its confirmation first). ``?class_name=`` chooses the class (default: the school's first);
        a superuser first chooses a school (``?school__id__exact=``)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        school_id = list_school_id(request)
        one_school = school_id not in (ALL_SCHOOLS, NO_SCHOOL)
        classes = [name for name in list_class_vocabulary(request).class_names if name] if one_school else []
        class_name = request.GET.get("class_name", "")
        class_name = class_name if class_name in classes else (classes[0] if classes else "")
        rows = class_overview(school_id=school_id, class_name=class_name, now=timezone.now()) if class_name else []
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Class %(class_name)s at a glance") % {"class_name": class_name} if class_name else _("Classes"),
            "schools": None if staff_school_id(request.user) is not ALL_SCHOOLS else School.objects.order_by("name"),
            "school_id": school_id if one_school else None,
            "classes": classes,
            "class_name": class_name,
            "rows": rows,
            "totals": {
                "students": len(rows),
                "without_contact": sum(1 for row in rows if not row["contacts"]),
                "without_admin": sum(1 for row in rows if not row["has_admin"]),
                "usable_codes": sum(1 for row in rows if row["claim_code"] == CLAIM_USABLE),
            },
            "can_print": self.has_change_permission(request),
            "print_action": issue_claim_codes.__name__,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "changelist_url": reverse("admin:schools_student_changelist"),
        }
        return TemplateResponse(request, "admin/contacts/class_overview.html", context)

    @admin.action(description=_("Check contacts against WeChat now"), permissions=["reconcile"])
    def check_against_wechat(self, request, queryset):
        reconcile_now(self, request, list(queryset.values_list("pk", flat=True)))


admin.site.unregister(Student)
admin.site.register(Student, StudentAdmin)
