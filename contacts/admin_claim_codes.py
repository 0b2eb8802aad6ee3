"""Claim codes in the admin: the student action that issues codes and prints the parents' letters,
and the read-only list of issued codes (registered here; ``contacts.admin`` imports this module).

The raw codes exist only in the response that prints them. So the action first shows a
confirmation page (the students, HTML or PDF, and a one-time nonce kept in the session); confirming
issues the codes once (``contacts.services.claim_codes_issue``) and answers the letters in the
chosen format. A resubmitted confirmation (reload, back button) finds its nonce spent and issues
nothing, so no second set of codes is ever made behind the staff user's back. The queryset is the
scoped one of ``SchoolScopedAdmin``: ids of another school's students select nothing.
"""

import io
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape

import segno
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Paragraph

from schools.admin import ReadOnlyAdminMixin, SchoolScopedAdmin
from schools.tokens import token_new

from . import services
from .models import ClaimCode

MAX_LETTERS = 500  # one request prints at most this many letters (a class is ~50)
NONCE_SESSION_KEY = "claim_code_letter_nonces"
NONCES_KEPT = 20  # confirmation pages a staff user may have open at once
PDF_FONT = "STSong-Light"  # reportlab's built-in CID font for simplified Chinese: no font file needed
PDF_CODE_FONT = "Courier-Bold"

FORMAT_HTML, FORMAT_PDF = "html", "pdf"


# --- Letters: one text for the HTML page and the PDF -----------------------------------------------


@dataclass(frozen=True)
class Letter:
    school: str
    student: str
    class_label: str
    code: str
    expires_on: date
    path: str  # the mini-program admin-binding page with ?user_id=, encoded in the QR code

    @property
    def qr(self) -> segno.QRCode:
        return segno.make_qr(self.path, error="m")

    @property
    def qr_svg(self) -> str:
        return mark_safe(
            self.qr.svg_inline(scale=4, border=2, title="微信扫一扫，打开绑定页面")
        )  # segno's own SVG, no user text

    @property
    def expires_label(self) -> str:
        return f"{self.expires_on.year}年{self.expires_on.month}月{self.expires_on.day}日"

    @property
    def title(self) -> str:
        return "校园电话 家长绑定通知"

    @property
    def greeting(self) -> str:
        return f"尊敬的{self.student}同学家长："

    @property
    def intro(self) -> str:
        return (
            f"您好！学校已为{self.student}同学开通校园电话。绑定成为孩子的第一位联系人（管理员）后，"
            "孩子就可以在学校用校园电话与您音视频通话；您还可以在小程序中邀请其他家人绑定为联系人。"
        )

    @property
    def steps(self) -> list[str]:
        return [
            "1. 用微信扫描下方二维码，打开小程序的“绑定管理员”页面；",
            "2. 按提示允许“语音通话提醒”授权；",
            "3. 输入下方的绑定码并提交，即完成绑定。",
        ]

    @property
    def notes(self) -> list[str]:
        minutes = int(settings.CLAIM_CODE_WINDOW.total_seconds() // 60)
        return [
            f"绑定码只能使用一次，{self.expires_label}后失效。输入时不区分大小写，中间的短横线可以省略。",
            f"连续输错 {settings.CLAIM_CODE_MAX_ATTEMPTS} 次后，需等待 {minutes} 分钟才能再试。",
            "请妥善保管本通知，不要把绑定码告诉他人。如绑定码丢失、过期或已被使用，请联系班主任重新领取。",
        ]


def _class_label(student) -> str:
    """``三年级2班`` whether the roster says ``2班`` or ``三年级2班`` in the class column."""
    if not student.class_name or student.class_name.startswith(student.grade):
        return student.class_name or student.grade
    return f"{student.grade}{student.class_name}"


def _letters(issued) -> list[Letter]:
    """A letter for each ``(student, code)`` just issued, with the expiry the code was stored with."""
    expires = dict(
        ClaimCode.objects.filter(
            student__in=[s for s, _ in issued], used_at__isnull=True, revoked_at__isnull=True
        ).values_list("student_id", "expires_at")
    )
    return [
        Letter(
            school=student.school.name,
            student=student.name,
            class_label=_class_label(student),
            code=code,
            expires_on=timezone.localtime(expires[student.pk]).date(),
            path=services.admin_bind_path(student.user_id),
        )
        for student, code in issued
    ]


def letters_html(request, letters: list[Letter], *, back_url: str) -> TemplateResponse:
    """One printed page per student (CSS ``page-break-after``), QR codes as inline SVG."""
    context = {"letters": letters, "back_url": back_url}
    return TemplateResponse(request, "admin/contacts/claim_codes/letters.html", context)


def _draw_qr(pdf: canvas.Canvas, qr: segno.QRCode, x: float, y: float, size: float) -> None:
    """Draw ``qr`` (quiet zone included) as a ``size``-wide square with its lower left at ``(x, y)``."""
    rows = [list(row) for row in qr.matrix_iter(scale=1, border=2)]
    module = size / len(rows)
    pdf.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(rows):
        top = y + size - (r + 1) * module
        c = 0
        while c < len(row):  # one rectangle per horizontal run of dark modules
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            pdf.rect(x + start * module, top, (c - start) * module, module, stroke=0, fill=1)


def _draw_letter(pdf: canvas.Canvas, letter: Letter) -> None:
    width, height = A4
    margin = 20 * mm
    text_width = width - 2 * margin
    body = ParagraphStyle("body", fontName=PDF_FONT, fontSize=12, leading=20, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=10, leading=16)

    def paragraph(text, style, y, indent=0):
        p = Paragraph(escape(text), style)
        _, h = p.wrap(text_width - indent, height)
        p.drawOn(pdf, margin + indent, y - h)
        return y - h

    y = height - margin
    pdf.setFont(PDF_FONT, 20)
    pdf.drawCentredString(width / 2, y - 20, letter.school)
    pdf.setFont(PDF_FONT, 16)
    pdf.drawCentredString(width / 2, y - 46, letter.title)
    pdf.setFont(PDF_FONT, 12)
    pdf.drawCentredString(width / 2, y - 68, f"学生：{letter.student}　　班级：{letter.class_label}")
    y -= 84
    pdf.setLineWidth(0.5)
    pdf.line(margin, y, width - margin, y)
    y = paragraph(letter.greeting, body, y - 10)
    y = paragraph(letter.intro, body, y - 4)
    for step in letter.steps:
        y = paragraph(step, body, y - 4, indent=12)

    qr_size = 45 * mm
    y -= 12
    _draw_qr(pdf, letter.qr, margin, y - qr_size, qr_size)
    pdf.setFont(PDF_FONT, 10)
    pdf.drawCentredString(margin + qr_size / 2, y - qr_size - 12, "微信扫一扫")
    box_x, box_w = margin + qr_size + 12 * mm, text_width - qr_size - 12 * mm
    pdf.setDash(4, 3)
    pdf.rect(box_x, y - qr_size + 6 * mm, box_w, qr_size - 12 * mm, stroke=1, fill=0)
    pdf.setDash()
    pdf.setFont(PDF_FONT, 12)
    pdf.drawString(box_x + 6 * mm, y - 16 * mm, "绑定码")
    pdf.setFont(PDF_CODE_FONT, 26)
    pdf.drawString(box_x + 6 * mm, y - 28 * mm, letter.code)
    pdf.setFont(PDF_FONT, 11)
    pdf.drawString(box_x + 6 * mm, y - 36 * mm, f"有效期至 {letter.expires_label}")
    y -= qr_size + 24

    for note in letter.notes:
        y = paragraph(f"● {note}", small, y - 4)  # STSong-Light has no U+00B7
    pdf.setFont(PDF_FONT, 9)
    pdf.drawCentredString(width / 2, margin / 2, f"{letter.school}｜{timezone.localdate():%Y-%m-%d}")


def letters_pdf(letters: list[Letter]) -> HttpResponse:
    """The same letters as a PDF, one A4 page per student; Chinese in reportlab's ``STSong-Light``."""
    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setTitle("校园电话 家长绑定通知")
    for letter in letters:
        _draw_letter(pdf, letter)
        pdf.showPage()
    pdf.save()
    response = HttpResponse(buffer.getvalue(), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="claim-code-letters-{timezone.localtime():%Y%m%d-%H%M}.pdf"'
    )
    return response


# --- The action ------------------------------------------------------------------------------------


class LettersForm(forms.Form):
    format = forms.ChoiceField(
        label=_("Print the letters as"),
        choices=[(FORMAT_HTML, _("a web page (print it from the browser)")), (FORMAT_PDF, _("a PDF file"))],
        initial=FORMAT_HTML,
        widget=forms.RadioSelect,
    )
    nonce = forms.CharField(widget=forms.HiddenInput, max_length=64)


def _nonce_new(request) -> str:
    nonce = token_new(nbytes=16)
    request.session[NONCE_SESSION_KEY] = [*request.session.get(NONCE_SESSION_KEY, [])[-(NONCES_KEPT - 1) :], nonce]
    return nonce


def _nonce_spend(request, nonce: str) -> bool:
    """Whether ``nonce`` was issued to this session and not yet spent; spends it."""
    nonces = request.session.get(NONCE_SESSION_KEY, [])
    if nonce not in nonces:
        return False
    request.session[NONCE_SESSION_KEY] = [n for n in nonces if n != nonce]
    request.session.save()  # spent before the codes are issued, so a parallel resubmission finds it gone
    return True


def _confirmation(model_admin, request, students, skipped: int, form: LettersForm) -> TemplateResponse:
    live = ClaimCode.objects.filter(student__in=students, used_at__isnull=True, revoked_at__isnull=True).count()
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

    First call: the confirmation page. Its POST (``issue``, ``format``, ``nonce``): issue once,
    answer the letters, never cached. A spent or unknown nonce issues nothing.
    """
    selected = list(queryset.select_related("school"))
    students = [s for s in selected if s.is_active]
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
            model_admin, request, students, skipped, LettersForm(initial={"nonce": _nonce_new(request)})
        )
    form = LettersForm(request.POST)
    if not form.is_valid():
        return _confirmation(model_admin, request, students, skipped, form)
    if not _nonce_spend(request, form.cleaned_data["nonce"]):
        model_admin.message_user(
            request,
            _(
                "These letters were already printed, so no new codes were issued. To issue new codes, select the students again."
            ),
            messages.WARNING,
        )
        return None
    if not students:
        model_admin.message_user(
            request, _("None of the selected students is active; no code issued."), messages.WARNING
        )
        return None
    letters = _letters(services.claim_codes_issue(students=students, issued_by=request.user))
    if form.cleaned_data["format"] == FORMAT_PDF:
        response = letters_pdf(letters)
    else:
        opts = model_admin.model._meta
        back_url = reverse(f"{model_admin.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist")
        response = letters_html(request, letters, back_url=back_url)
    add_never_cache_headers(response)  # the codes are shown once: no browser or proxy keeps them
    return response


# --- The list of codes -----------------------------------------------------------------------------


class ClaimCodeStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", _("usable")), ("expired", _("expired")), ("used", _("used")), ("revoked", _("revoked"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        live = {"used_at__isnull": True, "revoked_at__isnull": True}
        return {
            "live": lambda: queryset.filter(**live, expires_at__gt=now),
            "expired": lambda: queryset.filter(**live, expires_at__lte=now),
            "used": lambda: queryset.filter(used_at__isnull=False),
            "revoked": lambda: queryset.filter(revoked_at__isnull=False),
        }.get(self.value(), lambda: queryset)()


@admin.register(ClaimCode)
class ClaimCodeAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    """Who got a claim code, when, until when, and whether it was used or revoked. Never the code:
    only its digest is stored, and even that is not shown. Codes are issued from the student list."""

    school_path = "student__school"
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

    @admin.display(description=_("class"), ordering="student__class_name")
    def student_class(self, obj):
        return obj.student.class_name
