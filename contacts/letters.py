"""What staff print for parents: the claim-code letters and the class posters, as HTML or PDF.

Each letter names the student, its class and school, the claim code (shown only here: only its
digest is stored) and its expiry, and carries the student's mini-program code of the admin-binding
page (``contacts.services.mini_program_codes``: WeChat's image, fetched once per student and
batch). A class poster lists a class's students, each with the same mini-program code. HTML
embeds the images as ``data:`` URIs (the page needs nothing else); the PDF draws them and draws
Chinese with reportlab's built-in ``STSong-Light`` CID font, so no font file is needed.
"""

import base64
import io
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from xml.sax.saxutils import escape

from django.conf import settings
from django.http import HttpResponse
from django.template.response import TemplateResponse
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Paragraph

from contacts.models import ClaimCode
from core.local_time import local_now, local_today

PDF_FONT = "STSong-Light"  # reportlab's built-in CID font for simplified Chinese: no font file needed
PDF_CODE_FONT = "Courier-Bold"
JPEG_MAGIC = b"\xff\xd8\xff"  # WeChat answers JPEG or PNG; the sandbox draws PNG


def image_data_uri(image: bytes) -> str:
    """``data:image/png;base64,…`` (or ``image/jpeg``, by the image's first bytes) for an ``<img src>``."""
    mime = "image/jpeg" if image.startswith(JPEG_MAGIC) else "image/png"
    return f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"


@dataclass(frozen=True)
class Letter:
    school: str
    student: str
    class_label: str
    code: str
    expires_on: date
    image: bytes = field(repr=False)  # the student's mini-program code of the admin-binding page

    @property
    def image_src(self) -> str:
        return image_data_uri(self.image)

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
            "1. 用微信扫描下方小程序码，打开小程序的“绑定管理员”页面；",
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


def letters_for(issued, *, images: dict[int, bytes]) -> list[Letter]:
    """A letter for each ``(student, code)`` just issued, with the expiry the code was stored with.

    ``images``: ``{student.pk: image}``, the mini-program codes (``admin_bind_wxacodes_get``).
    """
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
            image=images[student.pk],
        )
        for student, code in issued
    ]


def letters_html(request, letters: list[Letter], *, back_url: str) -> TemplateResponse:
    """One printed page per student (CSS ``page-break-after``), mini-program codes as ``data:`` URIs."""
    context = {"letters": letters, "back_url": back_url}
    return TemplateResponse(request, "admin/contacts/claim_codes/letters.html", context)


def _draw_image(pdf: canvas.Canvas, image: bytes, x: float, y: float, size: float) -> None:
    """Draw ``image`` (PNG or JPEG) into a ``size``-wide square with its lower left at ``(x, y)``."""
    pdf.drawImage(ImageReader(io.BytesIO(image)), x, y, size, size, preserveAspectRatio=True, anchor="c")


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

    code_size = 45 * mm
    y -= 12
    _draw_image(pdf, letter.image, margin, y - code_size, code_size)
    pdf.setFont(PDF_FONT, 10)
    pdf.drawCentredString(margin + code_size / 2, y - code_size - 12, "微信扫一扫")
    box_x, box_w = margin + code_size + 12 * mm, text_width - code_size - 12 * mm
    pdf.setDash(4, 3)
    pdf.rect(box_x, y - code_size + 6 * mm, box_w, code_size - 12 * mm, stroke=1, fill=0)
    pdf.setDash()
    pdf.setFont(PDF_FONT, 12)
    pdf.drawString(box_x + 6 * mm, y - 16 * mm, "绑定码")
    pdf.setFont(PDF_CODE_FONT, 26)
    pdf.drawString(box_x + 6 * mm, y - 28 * mm, letter.code)
    pdf.setFont(PDF_FONT, 11)
    pdf.drawString(box_x + 6 * mm, y - 36 * mm, f"有效期至 {letter.expires_label}")
    y -= code_size + 24

    for note in letter.notes:
        y = paragraph(f"● {note}", small, y - 4)  # STSong-Light has no U+00B7
    pdf.setFont(PDF_FONT, 9)
    pdf.drawCentredString(width / 2, margin / 2, f"{letter.school}｜{local_today():%Y-%m-%d}")


def _register_font() -> None:
    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))


def _pdf_response(items, draw, *, title: str, file_prefix: str) -> HttpResponse:
    """An A4 PDF download: ``draw(pdf, item)`` for each of ``items``, each starting a new page."""
    _register_font()
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setTitle(title)
    for item in items:
        draw(pdf, item)
        pdf.showPage()
    pdf.save()
    response = HttpResponse(buffer.getvalue(), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{file_prefix}-{local_now():%Y%m%d-%H%M}.pdf"'
    return response


def letters_pdf(letters: list[Letter]) -> HttpResponse:
    """The same letters as a PDF, one A4 page per student; Chinese in reportlab's ``STSong-Light``."""
    return _pdf_response(letters, _draw_letter, title="校园电话 家长绑定通知", file_prefix="claim-code-letters")


# --- Class posters ---------------------------------------------------------------------------------

POSTER_COLUMNS = 5  # codes per row; a class of 50 takes two A4 pages of the PDF


@dataclass(frozen=True)
class PosterEntry:
    student: str
    image: bytes = field(repr=False)  # the student's mini-program code of the admin-binding page

    @property
    def image_src(self) -> str:
        return image_data_uri(self.image)


@dataclass(frozen=True)
class ClassPoster:
    """One class of one school: its students in roster order, each with its mini-program code."""

    school: str
    class_label: str
    entries: tuple[PosterEntry, ...]

    @property
    def title(self) -> str:
        return "校园电话 家长绑定小程序码"

    @property
    def intro(self) -> str:
        return (
            "请家长用微信扫描孩子姓名上方的小程序码，打开小程序的“绑定管理员”页面，按页面提示完成绑定。"
            "绑定后，孩子就可以在学校用校园电话与您音视频通话。"
        )


def _roster_order(student) -> tuple:
    return (student.school.name, student.school_id, _class_label(student), student.student_number, student.name)


def posters_for(students, *, images: dict[int, bytes]) -> list[ClassPoster]:
    """A poster per class (school, then class label: ``三年级2班``) of ``students``, in roster order.

    ``students``: Student rows with their school loaded; ``images``: ``{student.pk: image}``, the
    mini-program codes (``admin_bind_wxacodes_get``).
    """
    ordered = sorted(students, key=_roster_order)
    return [
        ClassPoster(
            school=school,
            class_label=class_label,
            entries=tuple(PosterEntry(student=s.name, image=images[s.pk]) for s in rows),
        )
        for (_school_id, school, class_label), rows in groupby(
            ordered, key=lambda s: (s.school_id, s.school.name, _class_label(s))
        )
    ]


def posters_html(request, posters: list[ClassPoster], *, back_url: str) -> TemplateResponse:
    """One printed page per class (CSS ``page-break-after``), mini-program codes as ``data:`` URIs."""
    context = {"posters": posters, "back_url": back_url}
    return TemplateResponse(request, "admin/contacts/claim_codes/posters.html", context)


def _draw_poster_header(pdf: canvas.Canvas, poster: ClassPoster, *, continued: bool) -> float:
    """A page's title and footer (and, on the poster's first page, its intro); returns where the grid starts."""
    width, height = A4
    margin = 20 * mm
    pdf.setFont(PDF_FONT, 9)
    pdf.drawCentredString(width / 2, margin / 2, f"{poster.school}｜{local_today():%Y-%m-%d}")
    y = height - margin
    pdf.setFont(PDF_FONT, 20)
    pdf.drawCentredString(width / 2, y - 20, f"{poster.school}　{poster.class_label}{'（续）' if continued else ''}")
    pdf.setFont(PDF_FONT, 14)
    pdf.drawCentredString(width / 2, y - 42, poster.title)
    y -= 54
    if not continued:
        style = ParagraphStyle("intro", fontName=PDF_FONT, fontSize=11, leading=18, wordWrap="CJK")
        p = Paragraph(escape(poster.intro), style)
        _, h = p.wrap(width - 2 * margin, height)
        p.drawOn(pdf, margin, y - h)
        y -= h + 4
    pdf.setLineWidth(0.5)
    pdf.line(margin, y, width - margin, y)
    return y - 6 * mm


def _draw_poster(pdf: canvas.Canvas, poster: ClassPoster) -> None:
    """The poster's pages: a grid of ``POSTER_COLUMNS`` codes per row, each above its student's name."""
    width, height = A4
    margin = 20 * mm
    cell_w = (width - 2 * margin) / POSTER_COLUMNS
    code_size = cell_w - 6 * mm
    cell_h = code_size + 10 * mm
    top = _draw_poster_header(pdf, poster, continued=False)
    row = col = 0
    for entry in poster.entries:
        y = top - (row + 1) * cell_h
        if y < margin:
            pdf.showPage()
            top, row = _draw_poster_header(pdf, poster, continued=True), 0
            y = top - cell_h
        x = margin + col * cell_w
        _draw_image(pdf, entry.image, x + (cell_w - code_size) / 2, y + 8 * mm, code_size)
        pdf.setFont(PDF_FONT, 12)
        pdf.drawCentredString(x + cell_w / 2, y + 2 * mm, entry.student)
        col += 1
        if col == POSTER_COLUMNS:
            row, col = row + 1, 0


def posters_pdf(posters: list[ClassPoster]) -> HttpResponse:
    """The posters as a PDF: each class starts on a new A4 page (a large class continues on the next)."""
    return _pdf_response(posters, _draw_poster, title="校园电话 家长绑定小程序码", file_prefix="class-posters")
