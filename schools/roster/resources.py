"""The base of every roster resource (``SchoolRosterResource``) and the registry of resources by kind.

Each resource registers itself with ``register`` under its ``kind`` (an ``ImportJob.Kind``), so
that a background job finds the resource of its file: devices and device groups in
``schools.resources``, students in ``contacts.resources`` (imported by its app's ``ready``).
"""

import re
from copy import copy
from functools import cached_property
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.translation import gettext_lazy as _
from import_export import resources
from import_export.instance_loaders import BaseInstanceLoader

from schools.roster.formats import TEXT, clean_cells, is_blank_row
from schools.roster.locks import roster_lock

QUERY_BATCH = 5000  # keys per ``__in`` lookup (SQLite allows 32,766 parameters)
RESOURCES: dict[str, type] = {}  # kind → resource class


def register(resource_class):
    """Class decorator: make ``resource_class`` the roster resource of its ``kind``."""
    RESOURCES[resource_class.kind] = resource_class
    return resource_class


def resource_for(kind: str):
    """The roster resource class of ``kind`` (``students``, ``devices``, ``groups``); KeyError if none."""
    return RESOURCES[kind]


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
    (``schools.roster.runner``: check a whole file, then write it in one short transaction).
    ``progress(rows)``: called every ``progress_every`` rows. ``show_diff``: per-row diff for
    the admin's preview (slower; off for bulk and background imports).
    """

    kind = ""  # ImportJob.Kind
    header_aliases: ClassVar[dict[str, tuple[str, ...]]] = {}
    # Never says whose the key is: one school must not learn what another school has.
    other_school_message = _("This row cannot be imported; check it with the platform operator.")

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

    @property
    def key_attrs(self) -> tuple[str, ...]:
        """The natural key a row is upserted by (``Meta.import_id_fields``)."""
        return tuple(self._meta.import_id_fields)

    @classmethod
    def header_map(cls) -> dict[str, str]:
        mapping = {}
        for column, aliases in cls.header_aliases.items():
            for alias in (column, *aliases):
                mapping[normalize_header(alias)] = column
        return mapping

    @classmethod
    def map_headers(cls, headers) -> list[str]:
        """A file's headers as column names (accepted aliases, e.g. Chinese, mapped; others stripped);
        ValueError if a column is given twice."""
        mapping = cls.header_map()
        headers = [mapping.get(normalize_header(h), "" if h is None else str(h).strip()) for h in headers or []]
        known = [h for h in headers if h in cls.header_aliases]
        twice = sorted({h for h in known if known.count(h) > 1})
        if twice:
            raise ValueError(_("These columns are given twice: %(columns)s") % {"columns": ", ".join(twice)})
        return headers

    def rename_headers(self, dataset):
        """Map accepted (e.g. Chinese) headers to column names; a column given twice is an error."""
        dataset.headers = self.map_headers(dataset.headers)

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
        if connection.in_atomic_block:  # the admin's import: one transaction, checks included
            roster_lock(self.school.pk)
        self.import_kwargs = kwargs
        self.rename_headers(dataset)
        while len(dataset) and is_blank_row(clean_cells(dataset[-1])):
            dataset.rpop()  # a spreadsheet's empty rows at the end (rows in between stay: they are numbered)
        keys = {self.row_key(dict(zip(dataset.headers, values, strict=True))) for values in dataset}
        for instance in self.prefetch(keys):
            self.existing[self.instance_key(instance)] = instance
            if instance.school_id == self.school.pk:
                self.snapshots[instance.pk] = self.snapshot(instance)
        self.prefetch_rules(dataset)

    def prefetch_queryset(self):
        """Where ``prefetch`` looks for existing rows (of any school)."""
        return self._meta.model.objects.all()

    def prefetch(self, keys) -> list:
        """Existing rows (of any school) for the keys in the file: looked up by the first key attribute,
        ``QUERY_BATCH`` keys per query, then matched on the whole key."""
        values = {key[0] for key in keys if key[0]}
        found = []
        for batch in in_batches(values):
            found += self.prefetch_queryset().filter(**{f"{self.key_attrs[0]}__in": batch})
        return [instance for instance in found if self.instance_key(instance) in keys]

    def prefetch_rules(self, dataset):
        """Load what the in-memory rules need (student numbers, group sizes...)."""

    def init_instance(self, row=None):
        return self._meta.model(school=self.school)

    def before_import_row(self, row, **kwargs):
        key = self.row_key(row)
        if all(key):
            first = self.seen.setdefault(key, kwargs["row_number"])
            if first != kwargs["row_number"]:
                raise ValidationError({self.key_attrs[0]: self.given_twice_message(first)})

    @staticmethod
    def given_twice_message(first_row: int) -> str:
        """The error of a row whose key an earlier row (``first_row``) of the file already gave."""
        return _("Already given in row %(row)d of this file.") % {"row": first_row}

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if import_validation_errors or instance.pk is None:
            return False
        return self.snapshots.get(instance.pk) == self.snapshot(instance)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        """``full_clean`` without its queries: field checks here, the rest in ``check_rules``."""
        errors = self.field_errors(instance, import_validation_errors)
        if not errors:
            errors = self.check_rules(instance)
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def field_errors(instance, errors=None) -> dict:
        """The model's own field checks of a row's instance (``clean_fields``: blank, lengths,
        validators; not the school or group, set by the import): ``{field: [ValidationError]}``
        added to ``errors``, {} when the fields are fine. The one field check of every import path
        (the COPY import of large files runs it on the rows its SQL pre-check cannot clear)."""
        errors = dict(errors or {})
        try:
            instance.clean_fields(exclude={"school", "group", *errors})
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        return errors

    def check_rules(self, instance) -> dict:
        """Uniqueness and cross-row rules, checked against in-memory state; {} when the row is fine
        (and then the state is updated as if the row were written)."""
        return {}

    def after_import_row(self, row, row_result, **kwargs):
        if self.progress and kwargs["row_number"] - self.last_progress >= self.progress_every:
            self.last_progress = kwargs["row_number"]
            self.progress(self.last_progress)

    def before_write(self, instances: list) -> None:
        """Called with each batch of rows just before it is written, never in a dry run: what must
        happen elsewhere first (WeChat's group membership, for devices). Raising refuses the file:
        the admin and a background job show an ``ApplicationError``'s message."""

    def _before_write(self, instances, dry_run, raise_errors, result) -> bool:
        if dry_run or not instances:
            return True
        try:
            self.before_write(instances)
        except Exception as exc:  # noqa: BLE001 — reported as the library reports a bulk error
            self.handle_import_error(result, exc, raise_errors)
            return False
        return True

    def bulk_create(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        """As the library's, after the updates the file gave before these rows (see ``flush``)."""
        if self.defer_writes:
            return
        self.bulk_update(using_transactions, dry_run, raise_errors, batch_size, result)
        if self._before_write(self.create_instances, dry_run, raise_errors, result):
            super().bulk_create(using_transactions, dry_run, raise_errors, batch_size, result)
        else:
            self.create_instances.clear()

    def bulk_update(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        """As the library's, but through ``write_updates``."""
        if self.defer_writes or not self.update_instances or not (using_transactions or not dry_run):
            return
        if not self._before_write(self.update_instances, dry_run, raise_errors, result):
            self.update_instances.clear()
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
        """Deferred mode: write every kept row and run the whole-file step; call it in a transaction.

        Updates first, in file order, then the new rows: a unique value (a student number) that an
        update moves away is free before a later row takes it; a new row never frees one."""
        model = self._meta.model
        roster_lock(self.school.pk)
        self.before_write([*self.create_instances, *self.update_instances])
        if self.update_instances:
            self.write_updates(self.update_instances)
        model.objects.bulk_create(self.create_instances, batch_size=self._meta.batch_size)
        self.create_instances, self.update_instances = [], []
        return self.finish()

    def count_missing(self) -> int:
        return 0

    def finish(self) -> int:
        """After the rows are written: deactivate what the file no longer lists (students)."""
        return 0


def normalize_header(header) -> str:
    return re.sub(r"[\s_\-]", "", "" if header is None else str(header)).lower()
