"""The claim-code letters parents receive: one text, as an HTML page to print or as a PDF.

Each letter names the student, its class and school, the claim code (shown only here: only its
digest is stored) and its expiry, and carries a QR code of the mini-program's admin-binding page
(``contacts.mini_program.admin_bind_path``). The PDF draws Chinese with reportlab's built-in
``STSong-Light`` CID font, so no font file is needed.
"""

import io
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape

import segno
from django.conf import settings
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils.safestring import mark_safe
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Paragraph

from contacts.mini_program import admin_bind_path
from contacts.models import ClaimCode
from core.local_time import local_now, local_today

PDF_FONT = "STSong-Light"  # reportlab's built-in CID font for simplified Chinese: no font file needed
PDF_CODE_FONT = "Courier-Bold"


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


def letters_for(issued) -> list[Letter]:
    """A letter for each ``(student, code)`` just issued, with the expiry the code was stored with."""
    expires = dict(
        ClaimCode.objects.live().filter(student__in=[s for s, _ in issued]).values_list("student_id", "expires_at")
    )
    return [
        Letter(
            school=student.school.name,
            student=student.name,
            class_label=_class_label(student),
            code=code,
            expires_on=local_today(expires[student.pk]),
            path=admin_bind_path(student.user_id),
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
    pdf.drawCentredString(width / 2, margin / 2, f"{letter.school}｜{local_today():%Y-%m-%d}")


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
    response["Content-Disposition"] = f'attachment; filename="claim-code-letters-{local_now():%Y%m%d-%H%M}.pdf"'
    return response
