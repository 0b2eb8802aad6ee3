"""Staff actions on the student admin page: remove a contact, transfer the admin role, revoke share
links, deactivate; each asks for a reason (``contacts.services.staff``). Bulk actions work on a class: filter
the student list by class, select all, choose the action.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact
from contacts.services.staff import (
    staff_admin_transfer,
    staff_contact_remove,
    staff_share_links_revoke,
    staff_students_deactivate,
)
from core.errors import ApplicationError
from core.masking import mask_openid


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=500)


class TransferForm(ReasonForm):
    new_admin_openid = forms.ChoiceField(label=_("New admin contact"))

    def __init__(self, *args, contacts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_admin_openid"].choices = [
            (c.parent.openid, f"{c.label} ({mask_openid(c.parent.openid)})") for c in contacts
        ]


def _page(request, model_admin, *, title, form, objects, action=""):
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "objects": objects,
        "action": action,
        "opts": model_admin.model._meta,
        "selected_ids": [str(o.pk) for o in objects] if action else [],
    }
    return TemplateResponse(request, "admin/contacts/staff_action.html", context)


def _bulk_action(name: str, *, description, title, service, done):
    """An admin action that asks for a reason, then runs ``service(user=, students=, reason=)`` on the
    selected (scoped) students and reports ``done % {"count": <its result>, "students": <selected>}``.
    Offered to those who may change students; the service checks the role again."""

    @admin.action(description=description, permissions=["change"])
    def action(model_admin, request, queryset):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            try:
                count = service(user=request.user, students=queryset, reason=form.cleaned_data["reason"])
            except ApplicationError as exc:  # the service's own role and school check
                model_admin.message_user(request, exc.message, messages.ERROR)
                return None
            model_admin.message_user(request, done % {"count": count, "students": queryset.count()}, messages.SUCCESS)
            return None
        return _page(request, model_admin, title=title, form=form, objects=list(queryset), action=name)

    action.__name__ = name
    return action


deactivate_students = _bulk_action(
    "deactivate_students",
    description=_("Deactivate selected students (asks for a reason)"),
    title=_("Deactivate students"),
    service=staff_students_deactivate,
    done=_("%(count)d of %(students)d students deactivated."),
)
revoke_share_links = _bulk_action(
    "revoke_share_links",
    description=_("Revoke all share links of selected students (asks for a reason)"),
    title=_("Revoke share links"),
    service=staff_share_links_revoke,
    done=_("%(count)d share links of %(students)d students revoked."),
)


class StaffActionsMixin:
    """Adds the per-student staff views to a student ModelAdmin (scoped by its ``get_object``)."""

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path(
                "<path:object_id>/contacts/<int:contact_id>/remove/",
                self.admin_site.admin_view(self.remove_contact_view),
                name="%s_%s_remove_contact" % info,
            ),
            path(
                "<path:object_id>/transfer-admin/",
                self.admin_site.admin_view(self.transfer_admin_view),
                name="%s_%s_transfer_admin" % info,
            ),
        ] + super().get_urls()

    def _student_for_change(self, request, object_id):
        student = self.get_object(request, object_id)  # 404 outside the staff user's school
        if not self.has_change_permission(request, student):
            raise PermissionDenied
        return student

    def _done(self, request, student, message):
        self.message_user(request, message, messages.SUCCESS)
        return redirect(
            reverse(f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_change", args=[student.pk])
        )

    def remove_contact_view(self, request, object_id, contact_id):
        student = self._student_for_change(request, object_id)
        contact = Contact.objects.select_related("parent").filter(student=student, pk=contact_id).first()
        if contact is None:
            raise Http404
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                staff_contact_remove(
                    user=request.user, student=student, openid=contact.parent.openid, reason=form.cleaned_data["reason"]
                )
            except ApplicationError as exc:
                form.add_error(None, str(exc.message))
            else:
                return self._done(request, student, _("Contact %(contact)s removed.") % {"contact": contact})
        title = _("Remove contact %(who)s of %(student)s") % {
            "who": contact.label,
            "student": student.name,
        }
        return _page(request, self, title=title, form=form, objects=[contact])

    def transfer_admin_view(self, request, object_id):
        student = self._student_for_change(request, object_id)
        candidates = list(Contact.objects.select_related("parent").filter(student=student, role=Contact.Role.ORDINARY))
        form = TransferForm(request.POST or None, contacts=candidates)
        if request.method == "POST" and form.is_valid():
            try:
                staff_admin_transfer(
                    user=request.user,
                    student=student,
                    new_admin_openid=form.cleaned_data["new_admin_openid"],
                    reason=form.cleaned_data["reason"],
                )
            except ApplicationError as exc:
                form.add_error(None, str(exc.message))
            else:
                return self._done(request, student, _("Admin role transferred."))
        return _page(
            request,
            self,
            title=_("Transfer the admin role of %(student)s") % {"student": student.name},
            form=form,
            objects=candidates,
        )
