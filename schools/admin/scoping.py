"""Tenant scoping of the admin: every ModelAdmin, inline and list filter of a school's rows.

Built on ``schools.tenancy`` (who sees which school) and the models' ``school_path``
(``schools.querysets``): a staff user with a ``StaffMembership`` sees only its school's rows,
superusers see all. ``portal/tests/test_multitenancy.py`` walks every registered admin and
fails on anything that shows another school's rows.
"""

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import get_fields_from_path
from django.db.models import F, Q
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from core.admin import EstimatedCountPaginator
from schools.grades import school_order_rank
from schools.models import School, Student
from schools.selectors import ClassVocabulary, class_vocabulary
from schools.tenancy import ALL_SCHOOLS, NO_SCHOOL, staff_is_viewer, staff_school_id, staff_scoped


def _is_school_scoped(model) -> bool:
    return hasattr(model, "school_path")


class SchoolScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A related-object filter that offers only the objects of the staff user's school.

    A filter of schools with more than ``list_max`` of them (a platform superuser's) lists only the
    chosen school and takes a school's code in a small form (``?school_code=``) instead of a link
    per school: at 1,000 schools those links were most of the student changelist's time
    (``bench/changelist.py``), and no one picks one of 10,000 from a list.
    """

    list_max = 50
    many_template = "admin/schools/school_code_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.code_kwarg = f"{field_path}_code"
        self.too_many = False
        super().__init__(field, request, params, model, model_admin, field_path)

    def expected_parameters(self):
        return [*super().expected_parameters(), self.code_kwarg]

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        related = field.related_model
        if not _is_school_scoped(related):
            return field.get_choices(include_blank=False, ordering=ordering)
        choices = staff_scoped(related._default_manager.all(), request.user)
        if ordering:
            choices = choices.order_by(*ordering)
        if related is not School:
            return [(obj.pk, str(obj)) for obj in choices]
        self._choose_by_code(choices)
        first = list(choices[: self.list_max + 1])
        if len(first) <= self.list_max:
            return [(obj.pk, str(obj)) for obj in first]
        self.too_many, self.template = True, self.many_template
        chosen = [value for value in self.lookup_val or [] if str(value).isdigit()]
        return [(obj.pk, str(obj)) for obj in choices.filter(pk__in=chosen)]

    def _choose_by_code(self, schools):
        """``?school_code=`` chooses the school with that code (none if no school the user sees has it),
        as ``?school__id__exact=`` would: the list is filtered by ``school_id``, never by a join."""
        code = self.used_parameters.pop(self.code_kwarg, None)
        if not code:
            return
        pk = str(schools.filter(code=code[-1]).values_list("pk", flat=True).first() or 0)
        self.lookup_val = [pk]
        self.used_parameters[self.lookup_kwarg] = [pk]

    def has_output(self):
        # Shown (and so applied) when chosen, even with one school to choose from.
        return self.too_many or bool(self.lookup_val) or super().has_output()

    def choices(self, changelist):
        # The form keeps the list's other parameters (search, other filters, order) as hidden fields.
        mine = {self.lookup_kwarg, self.lookup_kwarg_isnull, self.code_kwarg}
        self.form_params = [(name, value) for name, value in changelist.params.items() if name not in mine]
        return super().choices(changelist)


class SchoolScopedValuesFilter(admin.AllValuesFieldListFilter):
    """A values filter across a relation (``student__grade``): the values of the own school's rows.

    Django takes these values from every row of the related model, whatever the admin's queryset.
    """

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        values = staff_scoped(model_admin.model._default_manager.all(), request.user)
        self.lookup_choices = values.distinct().order_by(field_path).values_list(field_path, flat=True)


class ClassVocabularyFilter(admin.AllValuesFieldListFilter):
    """A student's grade or class (``grade``, ``class_name``, ``student__class_name``, …), offering the
    vocabulary of the school the user sees (``schools.selectors.class_vocabulary``), in school order:
    a few index probes, where Django's values filter runs ``SELECT DISTINCT`` over every row on
    every page. A superuser sees every school's, or the one chosen in the school filter.
    """

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)  # a lazy DISTINCT, replaced
        vocabulary = list_class_vocabulary(request, field_path.rpartition("__")[0])
        self.lookup_choices = vocabulary.grades if field.name == "grade" else vocabulary.class_names


def list_school_id(request, prefix: str = "") -> int | None:
    """The school a changelist shows: the staff user's, else the one chosen in the list's school filter
    (``<prefix>__school__id__exact`` or ``…_code``: ``SchoolScopedRelatedFilter``), else ``ALL_SCHOOLS``
    (a superuser's unfiltered list) or ``NO_SCHOOL`` (a code no school has). From the query string:
    the school filter has taken its parameters out of the changelist's."""
    school_id = staff_school_id(request.user)
    if school_id is not ALL_SCHOOLS:
        return school_id
    school = f"{prefix}__school" if prefix else "school"
    chosen, code = request.GET.get(f"{school}__id__exact", ""), request.GET.get(f"{school}_code")
    if code:
        return School.objects.filter(code=code).values_list("pk", flat=True).first() or NO_SCHOOL
    return int(chosen) if chosen.isdigit() else ALL_SCHOOLS


def list_class_vocabulary(request, prefix: str = "") -> ClassVocabulary:
    """The grades and classes of the school a changelist shows (``list_school_id``), read once per
    request (the grade filter, the class filter and the list's order share it)."""
    school_id = list_school_id(request, prefix)
    vocabularies = request.__dict__.setdefault("_class_vocabularies", {})
    if school_id not in vocabularies:
        vocabularies[school_id] = class_vocabulary(school_id=school_id)
    return vocabularies[school_id]


def class_ranks(request, prefix: str = "") -> dict:
    """Annotations ``grade_rank`` and ``class_rank`` of a changelist of students (``prefix`` ""), or of
    rows of a student (``prefix`` "student"), that order its grades and classes in school order
    (``schools.grades``: 一年级 < 二年级, 2班 < 10班) when it shows one school. A superuser's list of
    every school keeps the index's (character) order: ranking a million rows would sort them all."""
    path = f"{prefix}__" if prefix else ""
    if list_school_id(request, prefix) is ALL_SCHOOLS:
        return {"grade_rank": F(f"{path}grade"), "class_rank": F(f"{path}class_name")}
    vocabulary = list_class_vocabulary(request, prefix)
    return {
        "grade_rank": school_order_rank(f"{path}grade", vocabulary.grades),
        "class_rank": school_order_rank(f"{path}class_name", vocabulary.class_names),
    }


class StudentClassOrderMixin:
    """A ModelAdmin of a student's rows (``student``) whose class column sorts in school order, as
    the student list's does (``class_ranks``): ``ordering="student_class_rank"`` on the column."""

    def get_queryset(self, request):
        ranks = class_ranks(request, "student")
        return super().get_queryset(request).annotate(student_class_rank=ranks["class_rank"])


_CLASS_FIELDS = {Student._meta.get_field("grade"), Student._meta.get_field("class_name")}


def scoped_list_filter(model, entry):
    """A ``list_filter`` entry with its choices scoped: related objects, values across relations,
    a student's grade and class from its school's vocabulary."""
    if not isinstance(entry, str):
        return entry
    field = get_fields_from_path(model, entry)[-1]
    if field in _CLASS_FIELDS:
        return (entry, ClassVocabularyFilter)
    if field.is_relation and field.many_to_one:
        return (entry, SchoolScopedRelatedFilter)
    if (
        "__" in entry
        and not field.choices
        and not field.get_internal_type().endswith(("BooleanField", "DateTimeField", "DateField"))
    ):
        return (entry, SchoolScopedValuesFilter)
    return entry


class SchoolScopedAdmin(admin.ModelAdmin):
    """The ModelAdmin of every school's rows (the model declares ``school_path``).

    For a staff user with a ``StaffMembership`` (superusers see all schools) it scopes the
    changelist, change/delete/history views (another school's row answers 404), foreign-key and
    many-to-many choices, list filters, autocomplete (through ``get_queryset``), actions (they
    receive the scoped queryset) and saves (a row cannot be put into another school). Read-only
    viewers get view permission only. An unfiltered list of a large table shows PostgreSQL's
    estimate of its rows instead of counting them (``EstimatedCountPaginator``).
    """

    paginator = EstimatedCountPaginator

    def get_queryset(self, request):
        return staff_scoped(super().get_queryset(request), request.user)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(_("No such object in your school."))
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs["queryset"] = self._scoped_choices(db_field, request, kwargs.get("queryset"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs["queryset"] = self._scoped_choices(db_field, request, kwargs.get("queryset"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _scoped_choices(self, db_field, request, queryset):
        related = db_field.related_model
        queryset = queryset if queryset is not None else related._default_manager.all()
        return staff_scoped(queryset, request.user) if _is_school_scoped(related) else queryset

    def get_list_filter(self, request):
        return [scoped_list_filter(self.model, entry) for entry in super().get_list_filter(request)]

    def save_model(self, request, obj, form, change):
        school_id = staff_school_id(request.user)
        if school_id is not ALL_SCHOOLS and self.model.school_path == "school":
            obj.school_id = school_id  # staff cannot put a row into another school
        super().save_model(request, obj, form, change)

    def get_paginator(self, request, queryset, per_page, *args, **kwargs):
        if queryset.model is LogEntry:  # the history page of a row (``history_view``)
            queryset = log_entries_visible(queryset, request.user)
        return super().get_paginator(request, queryset, per_page, *args, **kwargs)

    def has_add_permission(self, request, *args):
        return not staff_is_viewer(request.user) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return not staff_is_viewer(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not staff_is_viewer(request.user) and super().has_delete_permission(request, obj)


def log_entries_visible(queryset, user):
    """The admin history entries ``user`` may read: all for a superuser; for school staff those made
    by its school's staff or by the platform (superusers), so that a row two schools share (a
    parent) does not show one school's staff accounts and times to the other."""
    school_id = staff_school_id(user)
    if school_id is ALL_SCHOOLS:
        return queryset
    return queryset.filter(Q(user__is_superuser=True) | Q(user__staff_membership__school_id=school_id))


class SchoolScopedInline(admin.TabularInline):
    """An inline of a school's rows: its queryset is scoped like the admins' (a parent bound in
    two schools shows each school's staff only its own contacts)."""

    def get_queryset(self, request):
        return staff_scoped(super().get_queryset(request), request.user)
