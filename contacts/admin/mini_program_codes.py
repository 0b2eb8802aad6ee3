"""Mini-program codes in the admin: the student actions that print a poster per class (HTML or PDF),
and the read-only lists of scenes and of the code images kept from WeChat.

A poster lists the selected students of each class, each with its mini-program code of the
admin-binding page (``contacts.services.mini_program_codes``); it carries no claim code, so it needs
no confirmation and may be printed again at will. The queryset is the scoped one of
``SchoolScopedAdmin``: ids of another school's students select nothing. When WeChat cannot make
the codes, nothing is printed and the staff user reads why.
"""

from django.contrib import admin, messages
from django.db.models.functions import Length
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from contacts.admin.claim_codes import MAX_LETTERS
from contacts.letters import posters_for, posters_html, posters_pdf
from contacts.models import MiniProgramCode, MiniProgramScene
from contacts.services.mini_program_codes import admin_bind_wxacodes_get
from core.admin import ReadOnlyAdminMixin
from core.errors import ApplicationError
from schools.admin.scoping import SchoolScopedAdmin

FORMAT_HTML, FORMAT_PDF = "html", "pdf"


def _poster_action(name: str, *, fmt: str, description):
    """A student action printing the selected active students' class posters as ``fmt``."""

    @admin.action(description=description, permissions=["change"])
    def action(model_admin, request, queryset):
        students = [s for s in queryset.select_related("school") if s.is_active_in_active_school]
        if not students:
            model_admin.message_user(
                request, _("None of the selected students is active; no poster printed."), messages.WARNING
            )
            return None
        if len(students) > MAX_LETTERS:
            model_admin.message_user(
                request,
                _("Select at most %(max)d students at a time (a class, for example).") % {"max": MAX_LETTERS},
                messages.ERROR,
            )
            return None
        try:
            images = admin_bind_wxacodes_get(students=students, actor_user=request.user)
        except ApplicationError as exc:
            model_admin.message_user(
                request,
                _("No poster printed: the mini-program codes could not be made. %(error)s") % {"error": exc.message},
                messages.ERROR,
            )
            return None
        posters = posters_for(students, images=images)
        if fmt == FORMAT_PDF:
            return posters_pdf(posters)
        opts = model_admin.model._meta
        back_url = reverse(f"{model_admin.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist")
        return posters_html(request, posters, back_url=back_url)

    action.__name__ = name
    return action


print_class_posters = _poster_action(
    "print_class_posters",
    fmt=FORMAT_HTML,
    description=_("Print class posters with mini-program codes (web page)"),
)
print_class_posters_pdf = _poster_action(
    "print_class_posters_pdf",
    fmt=FORMAT_PDF,
    description=_("Print class posters with mini-program codes (PDF)"),
)


@admin.register(MiniProgramScene)
class MiniProgramSceneAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    """Each student's ``scene``: what its mini-program code carries. Made when a letter or poster is printed."""

    list_display = ["student", "code", "created_at"]
    search_fields = ["student__user_id", "student__name", "code"]
    list_select_related = ["student"]
    fields = ["student", "code", "created_at"]
    show_full_result_count = False


@admin.register(MiniProgramCode)
class MiniProgramCodeAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    """The code images WeChat made (``getwxacodeunlimit``), kept so that printing again asks WeChat nothing."""

    list_display = ["scene", "page", "env_version", "size", "created_at"]
    list_filter = ["env_version", "page"]
    search_fields = ["scene__code", "scene__student__user_id", "scene__student__name"]
    list_select_related = ["scene__student"]
    fields = ["scene", "page", "env_version", "size", "created_at"]
    readonly_fields = ["size"]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("image").annotate(image_size=Length("image"))

    @admin.display(description=_("size (bytes)"), ordering="image_size")
    def size(self, obj):
        return obj.image_size
