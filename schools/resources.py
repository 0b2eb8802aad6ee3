"""Roster import and export (django-import-export): students, devices and device groups.

Every import belongs to one school, the staff user's (superusers choose it in the import form):
new rows are created in it, and a row whose key (``user_id``; ``sn`` + ``model_id``;
``group_id``) belongs to another school is a row error, never an update. Each row is checked
like ``Model.full_clean`` would (field validators, blank, lengths, and the uniqueness, group
capacity and group type rules) but in memory, from a few queries made in ``before_import``: no
query per row. Rows are then written with ``bulk_create``/``bulk_update``; an import with any
error writes nothing (one transaction).

Accepted column headers (case, spaces, ``_`` and ``-`` ignored; unknown columns are ignored):

=========== ===================================================================
students    ``user_id`` (用户ID, 刷脸ID, 人脸ID), ``name`` (姓名, 学生姓名),
            ``grade`` (年级), ``class_name`` (班级, 班级名称, class),
            ``student_number`` (学号), ``avatar_url`` (头像, 头像URL, 头像链接, avatar)
devices     ``sn`` (序列号, 设备序列号, 设备SN), ``model_id`` (型号ID, 设备型号ID),
            ``device_name`` (设备名称, 名称), ``model_type`` (设备类型, 类型),
            ``group`` (group_id, 设备组, 设备组ID, 分组), ``location`` (位置, 安装位置)
groups      ``group_id`` (设备组ID, 组ID), ``name`` (group_name, 设备组名称, 名称, 组名),
            ``model_type`` (设备类型, 类型)
=========== ===================================================================

A column missing from the file leaves that field of existing rows unchanged; an empty cell
empties it. Students export with a ``contacts`` column (contacts per student, ignored on import).
Exports are safe to open in a spreadsheet: a cell starting with ``= + - @``, tab or CR gets a
leading ``'`` (OWASP "CSV injection"), which the import takes off again; the library's
``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT`` stays on behind it.
"""

import re
from copy import copy
from functools import cached_property
from typing import ClassVar

import tablib
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from import_export import resources, widgets
from import_export.fields import Field
from import_export.formats import base_formats
from import_export.instance_loaders import BaseInstanceLoader

from .models import AuditLog, Device, DeviceGroup, Student

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
QUERY_BATCH = 5000  # keys per ``__in`` lookup (SQLite allows 32,766 parameters)


# --------------------------------------------------------------------------- file formats


class RosterCSV(base_formats.CSV):
    """CSV in UTF-8 (with or without BOM) or GB18030, as Excel saves it on Chinese Windows."""

    def is_binary(self):
        return True  # the admin keeps the upload as bytes; ``create_dataset`` decodes

    def get_read_mode(self):
        return "rb"

    def create_dataset(self, in_stream, **kwargs):
        if isinstance(in_stream, bytes):
            try:
                in_stream = in_stream.decode("utf-8-sig")
            except UnicodeDecodeError:
                in_stream = in_stream.decode("gb18030")
        return tablib.import_set(in_stream, format="csv", **kwargs)


IMPORT_FORMATS = [RosterCSV, base_formats.XLSX]
EXPORT_FORMATS = [base_formats.CSV, base_formats.XLSX]


def import_format_for(extension: str):
    """The import format of a file extension (``csv``, ``xlsx``), or None."""
    return next((f() for f in IMPORT_FORMATS if f().get_extension() == extension.lower()), None)


def read_dataset(data: bytes, extension: str) -> tablib.Dataset:
    """Parse an uploaded roster file; raises ValueError for an unknown extension."""
    file_format = import_format_for(extension)
    if file_format is None:
        raise ValueError(f"unsupported file format: {extension}")
    return file_format.create_dataset(data)


# --------------------------------------------------------------------------- widgets


class RosterTextWidget(widgets.CharWidget):
    """Text cells: stripped; spreadsheet numbers as digits (``20260101.0`` → ``20260101``);
    the ``'`` our export puts before a formula-like value taken off again."""

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        value = "" if value is None else str(value).strip()
        if value[:1] == "'" and value[1:2] and value[1:2] in FORMULA_PREFIXES:
            value = value[1:]
        return value

    def render(self, value, obj=None, **kwargs):
        return formula_safe("" if value is None else str(value))


def formula_safe(value: str) -> str:
    """A cell a spreadsheet shows as text, never evaluates: ``'`` before ``= + - @``, tab, CR."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


class SchoolGroupWidget(widgets.Widget):
    """A device's ``group`` cell: the ``group_id`` of one of the importing school's groups."""

    def __init__(self):
        super().__init__(coerce_to_string=True)
        self.groups: dict[str, DeviceGroup] = {}  # filled by DeviceResource.before_import

    def clean(self, value, row=None, **kwargs):
        group_id = TEXT.clean(value)
        if not group_id:
            return None
        group = self.groups.get(group_id)
        if group is None:
            raise ValueError(_("No device group %(group_id)s in your school.") % {"group_id": group_id})
        return group

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else formula_safe(value.group_id)


TEXT = RosterTextWidget()


def text_field(name: str) -> Field:
    return Field(attribute=name, column_name=name, widget=RosterTextWidget())


# --------------------------------------------------------------------------- base resource


class RosterInstanceLoader(BaseInstanceLoader):
    """Finds a row's existing instance in what ``before_import`` prefetched (any school)."""

    def get_instance(self, row):
        resource = self.resource
        instance = resource.existing.get(resource.row_key(row))
        if instance is not None and instance.school_id != resource.school.pk:
            raise ValidationError({resource.key_attrs[0]: resource.other_school_message})
        return instance


def in_batches(values, size=QUERY_BATCH):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


class SchoolRosterResource(resources.ModelResource):
    """Upserts one school's rows by a natural key, in bulk, with no query per row.

    ``school``: the importing school (required to import; exports take the admin's scoped
    queryset). ``defer_writes``: keep every row in memory and write nothing until ``flush()``
    (``schools.imports``: check a whole file, then write it in one short transaction).
    ``progress(rows)``: called every ``progress_every`` rows. ``show_diff``: per-row diff for
    the admin's preview (slower; off for bulk and background imports).
    """

    kind = ""  # ImportJob.Kind
    key_attrs: tuple[str, ...] = ()
    header_aliases: ClassVar[dict[str, tuple[str, ...]]] = {}
    other_school_message = _("This row belongs to another school.")

    class Meta:
        instance_loader_class = RosterInstanceLoader
        use_bulk = True
        batch_size = 1000
        skip_unchanged = True  # by the snapshot taken in before_import; see skip_row
        skip_diff = True
        skip_html_diff = True
        report_skipped = True
        clean_model_instances = True
        chunk_size = 1000  # export: rows per fetch

    def __init__(
        self,
        *,
        school=None,
        deactivate_missing=False,
        defer_writes=False,
        progress=None,
        progress_every=1000,
        show_diff=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._meta = copy(type(self)._meta)  # per import: the library sets options on _meta
        if show_diff:
            self._meta.skip_diff = self._meta.skip_html_diff = False
        self.school = school
        self.deactivate_missing = deactivate_missing
        self.defer_writes = defer_writes
        self.progress = progress
        self.progress_every = max(1, progress_every)
        self.existing: dict[tuple, object] = {}  # key → instance, of any school
        self.snapshots: dict[int, dict] = {}  # pk → the school's existing rows' values before the import
        self.seen: dict[tuple, int] = {}  # key → row number in the file
        self.import_kwargs: dict = {}
        self.last_progress = 0

    # ---- headers and fields

    @classmethod
    def header_map(cls) -> dict[str, str]:
        mapping = {}
        for column, aliases in cls.header_aliases.items():
            for alias in (column, *aliases):
                mapping[normalize_header(alias)] = column
        return mapping

    def rename_headers(self, dataset):
        """Map accepted (e.g. Chinese) headers to column names; a column given twice is an error."""
        mapping = self.header_map()
        headers = [mapping.get(normalize_header(h), "" if h is None else str(h).strip()) for h in dataset.headers or []]
        known = [h for h in headers if h in self.header_aliases]
        twice = sorted({h for h in known if known.count(h) > 1})
        if twice:
            raise ValueError(_("These columns are given twice: %(columns)s") % {"columns": ", ".join(twice)})
        dataset.headers = headers

    def get_import_fields(self):
        if not hasattr(self, "_import_fields"):  # asked for every row; the fields are set in __init__
            self._import_fields = [f for f in super().get_import_fields() if not f.readonly]
        return self._import_fields

    @cached_property
    def writable_attrs(self) -> list[str]:
        return [f.attribute for f in self.get_import_fields()]

    def get_bulk_update_fields(self):
        return [a for a in self.writable_attrs if a not in self.key_attrs]

    def row_key(self, row) -> tuple:
        return tuple(TEXT.clean(row.get(self.fields[a].column_name)) for a in self.key_attrs)

    def instance_key(self, instance) -> tuple:
        return tuple(getattr(instance, a) for a in self.key_attrs)

    def snapshot(self, instance) -> dict:
        return {a: getattr(instance, a) for a in self.writable_attrs}

    # ---- import workflow

    def before_import(self, dataset, **kwargs):
        if self.school is None:
            raise ValueError(_("Choose the school to import into."))
        self.import_kwargs = kwargs
        self.rename_headers(dataset)
        while len(dataset) and not any(TEXT.clean(cell) for cell in dataset[-1]):
            dataset.rpop()  # a spreadsheet's empty rows at the end (rows in between stay: they are numbered)
        keys = {self.row_key(dict(zip(dataset.headers, values))) for values in dataset}
        for instance in self.prefetch(keys):
            self.existing[self.instance_key(instance)] = instance
            if instance.school_id == self.school.pk:
                self.snapshots[instance.pk] = self.snapshot(instance)
        self.prefetch_rules(dataset)

    def prefetch(self, keys) -> list:
        """Existing rows (of any school) for the keys in the file."""
        raise NotImplementedError

    def prefetch_rules(self, dataset):
        """Load what the in-memory rules need (student numbers, group sizes...)."""

    def init_instance(self, row=None):
        return self._meta.model(school=self.school)

    def before_import_row(self, row, **kwargs):
        key = self.row_key(row)
        if all(key):
            first = self.seen.setdefault(key, kwargs["row_number"])
            if first != kwargs["row_number"]:
                raise ValidationError(
                    {self.key_attrs[0]: _("Already given in row %(row)d of this file.") % {"row": first}}
                )

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if import_validation_errors or instance.pk is None:
            return False
        return self.snapshots.get(instance.pk) == self.snapshot(instance)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        """``full_clean`` without its queries: field checks here, the rest in ``check_rules``."""
        errors = dict(import_validation_errors or {})
        try:
            instance.clean_fields(exclude={"school", "group", *errors})
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if not errors:
            errors = self.check_rules(instance)
        if errors:
            raise ValidationError(errors)

    def check_rules(self, instance) -> dict:
        """Uniqueness and cross-row rules, checked against in-memory state; {} when the row is fine
        (and then the state is updated as if the row were written)."""
        return {}

    def after_import_row(self, row, row_result, **kwargs):
        if self.progress and kwargs["row_number"] - self.last_progress >= self.progress_every:
            self.last_progress = kwargs["row_number"]
            self.progress(self.last_progress)

    def bulk_create(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        if not self.defer_writes:
            super().bulk_create(using_transactions, dry_run, raise_errors, batch_size, result)

    def bulk_update(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        """As the library's, but through ``write_updates``."""
        if self.defer_writes or not self.update_instances or not (using_transactions or not dry_run):
            return
        try:
            self.write_updates(self.update_instances)
        except Exception as exc:  # noqa: BLE001 — reported as the library reports a bulk error
            self.handle_import_error(result, exc, raise_errors)
        finally:
            self.update_instances.clear()

    def write_updates(self, instances):
        """UPDATE by primary key, as ``INSERT … ON CONFLICT (id) DO UPDATE`` per batch. Django's
        ``bulk_update`` builds a CASE per field and row: 20 s for 10,000 changed students."""
        self._meta.model.objects.bulk_create(
            instances,
            batch_size=self._meta.batch_size,
            update_conflicts=True,
            unique_fields=["pk"],
            update_fields=self.get_bulk_update_fields(),
        )

    def after_import(self, dataset, result, **kwargs):
        """Replaces ModelResource's sequence reset (we never import ids; a reset could move a
        sequence back under concurrent inserts). The whole-file step runs once all rows are in."""
        result.missing = result.deactivated = 0
        if self.defer_writes or result.has_errors() or result.has_validation_errors():
            return
        if kwargs.get("dry_run"):
            result.missing = self.count_missing()
        else:
            result.deactivated = self.finish()

    def flush(self) -> int:
        """Deferred mode: write every kept row and run the whole-file step; call it in a transaction."""
        model = self._meta.model
        model.objects.bulk_create(self.create_instances, batch_size=self._meta.batch_size)
        if self.update_instances:
            self.write_updates(self.update_instances)
        self.create_instances, self.update_instances = [], []
        return self.finish()

    def count_missing(self) -> int:
        return 0

    def finish(self) -> int:
        """After the rows are written: deactivate what the file no longer lists (students)."""
        return 0


def normalize_header(header) -> str:
    return re.sub(r"[\s_\-]", "", "" if header is None else str(header)).lower()


# --------------------------------------------------------------------------- students


class StudentResource(SchoolRosterResource):
    """Students, upserted by ``user_id``; ``deactivate_missing`` deactivates the school's active
    students the file does not list (graduates), revoking their share links, with an audit row."""

    user_id = text_field("user_id")
    name = text_field("name")
    grade = text_field("grade")
    class_name = text_field("class_name")
    student_number = text_field("student_number")
    avatar_url = text_field("avatar_url")
    contacts = Field(column_name="contacts", readonly=True, widget=widgets.IntegerWidget())

    kind = "students"
    key_attrs = ("user_id",)
    header_aliases: ClassVar = {
        "user_id": ("userid", "用户ID", "刷脸ID", "人脸ID", "微信用户ID"),
        "name": ("姓名", "学生姓名"),
        "grade": ("年级",),
        "class_name": ("class", "班级", "班级名称"),
        "student_number": ("学号",),
        "avatar_url": ("avatar", "头像", "头像URL", "头像链接"),
    }
    other_school_message = _("This user_id is a student of another school.")

    class Meta:
        model = Student
        name = _("students")
        fields = ("user_id", "name", "grade", "class_name", "student_number", "avatar_url", "contacts")
        import_id_fields = ("user_id",)

    def get_bulk_update_fields(self):
        return [*super().get_bulk_update_fields(), "updated_at"]  # auto_now: set by write_updates' INSERT

    def prefetch(self, keys):
        user_ids = [k[0] for k in keys if k[0]]
        found = []
        for batch in in_batches(user_ids):
            found += Student.objects.filter(user_id__in=batch)
        return found

    def prefetch_rules(self, dataset):
        # student_number → user_id of the school's student holding it (PostgreSQL keeps them unique).
        numbers = {TEXT.clean(v) for v in dataset["student_number"]} if "student_number" in dataset.headers else set()
        numbers.discard("")
        self.number_owner = {}
        for batch in in_batches(numbers):
            self.number_owner.update(
                Student.objects.filter(school=self.school, student_number__in=batch).values_list(
                    "student_number", "user_id"
                )
            )

    def check_rules(self, instance):
        number = instance.student_number
        if number:
            owner = self.number_owner.get(number)
            if owner is not None and owner != instance.user_id:
                return {
                    "student_number": [
                        _("Student number %(number)s is already used by %(user_id)s.")
                        % {"number": number, "user_id": owner}
                    ]
                }
            old = self.snapshots.get(instance.pk, {}).get("student_number")
            if old and self.number_owner.get(old) == instance.user_id:
                del self.number_owner[old]
            self.number_owner[number] = instance.user_id
        return {}

    def missing_students(self):
        present = {key[0] for key in self.seen}
        rows = Student.objects.filter(school=self.school, is_active=True).values_list("pk", "user_id")
        return [pk for pk, user_id in rows.iterator(chunk_size=5000) if user_id not in present]

    def count_missing(self):
        return len(self.missing_students()) if self.deactivate_missing and self.seen else 0

    def finish(self):
        if not self.deactivate_missing or not self.seen:  # an empty file never empties a school
            return 0
        from contacts.models import ShareLink

        missing, now = self.missing_students(), timezone.now()
        user = self.import_kwargs.get("user")
        reason = _("Missing from the imported roster %(file)s.") % {"file": self.import_kwargs.get("file_name") or ""}
        for batch in in_batches(missing, 1000):
            Student.objects.filter(pk__in=batch).update(is_active=False, updated_at=now)
            ShareLink.objects.filter(student_id__in=batch, state=ShareLink.State.ACTIVE).update(
                state=ShareLink.State.REVOKED, revoked_at=now
            )
        AuditLog.objects.bulk_create(
            [
                AuditLog(
                    school=self.school,
                    student_id=pk,
                    actor_user=user if getattr(user, "pk", None) else None,
                    action=AuditLog.Action.STAFF_STUDENT_DEACTIVATED,
                    reason=str(reason),
                    data={"roster_import": self.import_kwargs.get("file_name") or ""},
                    created_at=now,
                )
                for pk in missing
            ],
            batch_size=1000,
        )
        return len(missing)

    def filter_export(self, queryset, **kwargs):
        from contacts.models import Contact

        contacts = (
            Contact.objects.filter(student=OuterRef("pk"))
            .order_by()
            .values("student")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return queryset.annotate(contacts_count=Coalesce(Subquery(contacts, output_field=IntegerField()), Value(0)))

    def dehydrate_contacts(self, student):
        return getattr(student, "contacts_count", 0)


# --------------------------------------------------------------------------- devices


class DeviceResource(SchoolRosterResource):
    """Campus phones, upserted by ``(sn, model_id)``; ``group`` is one of the school's group_ids,
    of the device's type and not full (``Device.clean``'s rules, checked in memory)."""

    sn = text_field("sn")
    model_id = text_field("model_id")
    device_name = text_field("device_name")
    model_type = text_field("model_type")
    group = Field(attribute="group", column_name="group", widget=SchoolGroupWidget())
    location = text_field("location")

    kind = "devices"
    key_attrs = ("sn", "model_id")
    header_aliases: ClassVar = {
        "sn": ("序列号", "设备序列号", "设备SN"),
        "model_id": ("型号ID", "设备型号ID"),
        "device_name": ("设备名称", "名称"),
        "model_type": ("设备类型", "类型"),
        "group": ("group_id", "设备组", "设备组ID", "分组"),
        "location": ("位置", "安装位置"),
    }
    other_school_message = _("This sn and model_id are a device of another school.")

    class Meta:
        model = Device
        name = _("devices")
        fields = ("sn", "model_id", "device_name", "model_type", "group", "location")
        import_id_fields = ("sn", "model_id")

    def prefetch(self, keys):
        sns = {k[0] for k in keys if k[0]}
        found = []
        for batch in in_batches(sns):
            found += Device.objects.filter(sn__in=batch).select_related("group")
        return [d for d in found if (d.sn, d.model_id) in keys]

    def prefetch_rules(self, dataset):
        groups = {g.pk: g for g in DeviceGroup.objects.filter(school=self.school)}
        self.fields["group"].widget.groups = {g.group_id: g for g in groups.values()}
        self.group_sizes = dict(
            Device.objects.filter(group__in=groups)
            .order_by()
            .values("group")
            .annotate(n=Count("pk"))
            .values_list("group", "n")
        )

    def check_rules(self, instance):
        group = instance.group
        old_group = self.snapshots.get(instance.pk, {}).get("group")
        if group is not None:
            others = self.group_sizes.get(group.pk, 0) - (1 if group == old_group else 0)
            error = instance.group_error(others_in_group=others)  # the model's rule, counted in memory
            if error:
                return {"group": [error]}
        if group != old_group:
            if group is not None:
                self.group_sizes[group.pk] = self.group_sizes.get(group.pk, 0) + 1
            if old_group is not None:
                self.group_sizes[old_group.pk] -= 1
        return {}

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("group")


# --------------------------------------------------------------------------- device groups


class DeviceGroupResource(SchoolRosterResource):
    """Device groups, created by ``group_id``; WeChat fixes a group's name and type at creation,
    so a row that would change them is an error (identical rows are skipped)."""

    group_id = text_field("group_id")
    name = text_field("name")
    model_type = text_field("model_type")

    kind = "groups"
    key_attrs = ("group_id",)
    header_aliases: ClassVar = {
        "group_id": ("设备组ID", "组ID"),
        "name": ("group_name", "设备组名称", "名称", "组名"),
        "model_type": ("设备类型", "类型"),
    }
    other_school_message = _("This group_id is a device group of another school.")

    class Meta:
        model = DeviceGroup
        name = _("device groups")
        fields = ("group_id", "name", "model_type")
        import_id_fields = ("group_id",)

    def prefetch(self, keys):
        group_ids = [k[0] for k in keys if k[0]]
        found = []
        for batch in in_batches(group_ids):
            found += DeviceGroup.objects.filter(group_id__in=batch)
        return found

    def check_rules(self, instance):
        before = self.snapshots.get(instance.pk, {})
        return {
            attr: [_("Fixed when the group was created (WeChat); it is %(value)s.") % {"value": before[attr]}]
            for attr in ("name", "model_type")
            if attr in before and getattr(instance, attr) != before[attr]
        }


RESOURCES = {resource.kind: resource for resource in (StudentResource, DeviceResource, DeviceGroupResource)}
