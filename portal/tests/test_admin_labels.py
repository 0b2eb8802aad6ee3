"""Words a school uses (issue 12 §1): in Chinese, no admin label is a code name.

Walks every registered ModelAdmin as a superuser in zh-hans, renders its changelist, its add form
and the change form of a row (``make_world``: a row of every model), and reads what the admin
labels: list column headers, filter titles, action descriptions, form labels, fieldset and inline
headings, inline column headers, and the apps' and models' names in the sidebar. A label may hold
no ASCII word but the acronyms in ``ALLOWED``: ``User_id``, ``openid``, ``Model_id``, ``roomType``,
``errMsg`` all fail (WeChat's names belong in help texts and in the API only).
"""

import re
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.test import RequestFactory
from django.urls import reverse

from calls.models import InvariantCheckRun
from portal.tests.worlds import make_world

pytestmark = pytest.mark.django_db

# ASCII a Chinese label may hold: acronyms a school reads as words (and "Webhook", which has no
# Chinese word of its own).
ALLOWED = {"API", "ID", "URL", "PDF", "CSV", "XLSX", "HTTP", "HTTPS", "JSON", "MB", "AMQP", "Webhook"}
OUR_APPS = {"schools", "contacts", "calls"}
ASCII_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.]*")


class _Labels(HTMLParser):
    """Collects ``(kind, text)`` of the labels of an admin page (Django 5.2's admin templates)."""

    def __init__(self):
        super().__init__()
        self.labels: list[tuple[str, str]] = []
        self._open: list[tuple[str, str, list[str]]] = []  # (tag, kind, text parts) being read
        self._in_thead = self._in_action_select = self._in_filter = self._in_sidebar = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        kind = None
        if tag == "thead":
            self._in_thead += 1
        elif tag == "nav" and attrs.get("id") == "nav-sidebar":
            self._in_sidebar = 1
        elif tag == "select" and attrs.get("name") == "action":
            self._in_action_select = 1
        elif tag == "details" and "data-filter-title" in attrs:
            self._in_filter = 1
            self.labels.append(("filter title", attrs["data-filter-title"]))
        elif tag == "summary" and self._in_filter:
            kind = "filter heading"
        elif tag == "option" and self._in_action_select and attrs.get("value"):
            kind = "action"
        elif tag == "th" and self._in_thead:
            kind = "column header"
        elif tag in ("th", "caption") and self._in_sidebar:
            kind = "model name"
        elif tag == "label" and "vCheckboxLabel" not in classes and "inline" not in classes:
            kind = "form label"
        elif tag in ("h2", "h3", "h4") and {"fieldset-heading", "inline-heading"} & set(classes):
            kind = "heading"
        if kind:
            self._open.append((tag, kind, []))

    def handle_endtag(self, tag):
        if tag == "thead":
            self._in_thead -= 1
        elif tag == "select":
            self._in_action_select = 0
        elif tag == "details":
            self._in_filter = 0
        elif tag == "nav":
            self._in_sidebar = 0
        if self._open and self._open[-1][0] == tag:
            _, kind, parts = self._open.pop()
            text = " ".join("".join(parts).split())
            if text:
                self.labels.append((kind, text))

    def handle_data(self, data):
        if self._open:
            self._open[-1][2].append(data)


def labels_of(html: str) -> list[tuple[str, str]]:
    parser = _Labels()
    parser.feed(html)
    return parser.labels


def code_names(text: str) -> list[str]:
    return [word for word in ASCII_WORD.findall(text) if word not in ALLOWED]


def _pages(model, model_admin, superuser):
    """The admin URLs of a model to read: changelist, add form (if any), a row's change form."""
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    yield reverse(f"{info}_changelist")
    request = RequestFactory().get("/admin/")
    request.user = superuser
    if model_admin.has_add_permission(request):
        yield reverse(f"{info}_add")
    row = model_admin.get_queryset(request).order_by("pk").first()
    if row is None and model._meta.app_label not in OUR_APPS:
        return
    assert row is not None, f"make_world has no {model.__name__}: add one, so that its form is checked"
    yield reverse(f"{info}_change", args=[row.pk])


def test_labels_are_chinese_not_code_names(client):
    make_world("A")
    Group.objects.create(name="教务处")
    InvariantCheckRun.objects.create(problems=1, details=[{"code": "x", "title": "t", "total": 1, "lines": ["l"]}])
    superuser = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(superuser)
    leaks, pages = [], 0
    for model, model_admin in admin.site._registry.items():
        for url in _pages(model, model_admin, superuser):
            response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
            assert response.status_code == 200, url
            html = response.content.decode()
            assert 'lang="zh-hans"' in html, url
            pages += 1
            for kind, text in labels_of(html):
                if code_names(text):
                    leaks.append(f"{url}: {kind} {text!r}")
    assert pages > 40
    assert leaks == [], "labels that are code names in Chinese:\n" + "\n".join(sorted(set(leaks)))


@pytest.mark.parametrize(
    "text, leaked",
    [
        ("User_id", ["User_id"]),
        ("以 roomType", ["roomType"]),
        ("Openid:", ["Openid"]),
        ("ErrMsg", ["ErrMsg"]),
        ("删除所选的 initByCaller 呼叫失败", ["initByCaller"]),
        ("刷脸用户ID", []),
        ("API 客户端", []),
    ],
)
def test_code_names_are_caught(text, leaked):
    assert code_names(text) == leaked


def test_the_parser_reads_every_kind_of_label():
    html = """
    <details data-filter-title="roomType"><summary>以 roomType</summary></details>
    <select name="action"><option value="">---------</option><option value="x">Do_it</option></select>
    <table><thead><tr><th scope="col"><div class="text"><a href="?o=1">Model_id</a></div></th></tr></thead></table>
    <label for="id_user_id" class="required">User_id:</label>
    <h2>a row's name_1</h2>
    <fieldset class="module"><h2 class="fieldset-heading">Fieldset_name</h2></fieldset>
    <div class="inline-group"><h2 class="inline-heading">Devices</h2></div>
    <nav id="nav-sidebar"><table><caption>Calls</caption><tr><th scope="row">CallRecords</th></tr></table></nav>
    <table><tr><th scope="row">a row's name_1</th></tr></table>
    """
    assert labels_of(html) == [
        ("filter title", "roomType"),
        ("filter heading", "以 roomType"),
        ("action", "Do_it"),
        ("column header", "Model_id"),
        ("form label", "User_id:"),
        ("heading", "Fieldset_name"),
        ("heading", "Devices"),
        ("model name", "Calls"),
        ("model name", "CallRecords"),
    ]
