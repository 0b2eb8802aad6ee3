"""Claim codes in the admin: the student action that issues codes and prints the parents' letters
(``contacts.letters``), and the read-only list of issued codes.

The raw codes exist only in the response that prints them. So the action first shows a
confirmation page (the students, HTML or PDF, and a one-time nonce kept in the session,
``core.nonces``); confirming first gets each student's mini-program code
(``contacts.services.mini_program_codes``: from WeChat, or kept from an earlier batch), then issues
the codes once (``contacts.services.claim_codes``) and answers the letters in the chosen format.
When WeChat cannot make the mini-program codes the whole batch fails with an error message and no
claim code is issued. A resubmitted confirmation (reload, back button) finds its nonce spent and
issues nothing, so no second set of codes is ever made behind the staff user's back.
The queryset is the scoped one of ``SchoolScopedAdmin``: ids of another school's students select
nothing.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _

from contacts.letters import letters_for, letters_html, letters_pdf
from contacts.models import ClaimCode
from contacts.services.claim_codes import claim_codes_issue
from contacts.services.mini_program_codes import admin_bind_wxacodes_get
from core.admin import ReadOnlyAdminMixin
from core.errors import ApplicationError
from core.nonces import nonce_issue, nonce_spend
from schools.admin.scoping import SchoolScopedAdmin, StudentClassOrderMixin

MAX_LETTERS = 500  # one request prints at most this many letters (a class is ~50)
NONCE_SESSION_KEY = "claim_code_letter_nonces"
FORMAT_HTML, FORMAT_PDF = "html", "pdf"


class LettersForm(forms.Form):
    format = forms.ChoiceField(
        label=_("Print the letters as"),
        choices=[(FORMAT_HTML, _("a web page (print it from the browser)")), (FORMAT_PDF, _("a PDF file"))],
        initial=FORMAT_HTML,
        widget=forms.RadioSelect,
    )
    nonce = forms.CharField(widget=forms.HiddenInput, max_length=64)


def _confirmation(model_admin, request, students, skipped: int, form: LettersForm) -> TemplateResponse:
    live = ClaimCode.objects.live().filter(student__in=students).count()
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Issue claim codes and print letters"),
        "opts": model_admin.model._meta,
        "students": students,
        "skipped": skipped,
        "live": live,
        "form": form,
        "action": issue_claim_codes.__name__,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/contacts/claim_codes/confirm.html", context)


@admin.action(description=_("Issue claim codes and print letters"), permissions=["change"])
def issue_claim_codes(model_admin, request, queryset):
    """Issue a claim code to each selected active student and print its letter (HTML or PDF).

    First call: the confirmation page. Its POST (``issue``, ``format``, ``nonce``): get the
    mini-program codes, issue once, answer the letters, never cached. A spent or unknown nonce, or
    mini-program codes WeChat would not make (an error message), issue nothing.
    """
    selected = list(queryset.select_related("school"))
    students = [s for s in selected if s.is_active_in_active_school]
    skipped = len(selected) - len(students)
    if len(students) > MAX_LETTERS:
        model_admin.message_user(
            request,
            _("Select at most %(max)d students at a time (a class, for example).") % {"max": MAX_LETTERS},
            messages.ERROR,
        )
        return None
    if "issue" not in request.POST:
        if not students:
            model_admin.message_user(
                request, _("None of the selected students is active; no code issued."), messages.WARNING
            )
            return None
        return _confirmation(
            model_admin,
            request,
            students,
            skipped,
            LettersForm(initial={"nonce": nonce_issue(request, NONCE_SESSION_KEY)}),
        )
    form = LettersForm(request.POST)
    if not form.is_valid():
        return _confirmation(model_admin, request, students, skipped, form)
    if not nonce_spend(request, NONCE_SESSION_KEY, form.cleaned_data["nonce"]):
        model_admin.message_user(
            request,
            _(
                "These letters were already printed, so no new codes were issued. "
                "To issue new codes, select the students again."
            ),
            messages.WARNING,
        )
        return None
    if not students:
        model_admin.message_user(
            request, _("None of the selected students is active; no code issued."), messages.WARNING
        )
        return None
    try:
        images = admin_bind_wxacodes_get(students=students, actor_user=request.user)  # before any code is issued
    except ApplicationError as exc:
        model_admin.message_user(
            request,
            _(
                "No claim code was issued: the letters' mini-program codes could not be made. %(error)s "
                "Select the students again to retry."
            )
            % {"error": exc.message},
            messages.ERROR,
        )
        return None
    letters = letters_for(claim_codes_issue(students=students, issued_by=request.user), images=images)
    if form.cleaned_data["format"] == FORMAT_PDF:
        response = letters_pdf(letters)
    else:
        opts = model_admin.model._meta
        back_url = reverse(f"{model_admin.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist")
        response = letters_html(request, letters, back_url=back_url)
    add_never_cache_headers(response)  # the codes are shown once: no browser or proxy keeps them
    return response


class ClaimCodeStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", _("usable")), ("expired", _("expired")), ("used", _("used")), ("revoked", _("revoked"))]

    def queryset(self, request, queryset):
        return {
            "live": queryset.usable,
            "expired": queryset.expired,
            "used": lambda: queryset.filter(used_at__isnull=False),
            "revoked": lambda: queryset.filter(revoked_at__isnull=False),
        }.get(self.value(), lambda: queryset)()


@admin.register(ClaimCode)
class ClaimCodeAdmin(StudentClassOrderMixin, ReadOnlyAdminMixin, SchoolScopedAdmin):
    """Who got a claim code, when, until when, and whether it was used or revoked. Never the code:
    only its digest is stored, and even that is not shown. Codes are issued from the student list."""

    list_display = [
        "student",
        "student_class",
        "created_at",
        "expires_at",
        "used_at",
        "used_by",
        "revoked_at",
        "issued_by",
    ]
    list_filter = [ClaimCodeStateFilter, "student__grade", "student__class_name", "created_at"]
    search_fields = ["student__user_id", "student__name", "student__student_number"]
    list_select_related = ["student", "used_by", "issued_by"]
    fields = ["student", "issued_by", "created_at", "expires_at", "used_at", "used_by", "revoked_at"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description=_("class"), ordering="student_class_rank")
    def student_class(self, obj):
        return obj.student.class_name
