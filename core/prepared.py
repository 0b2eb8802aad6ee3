"""QuerySets compiled once per connection: the device API's hot reads skip the ORM's query building.

Building and compiling a QuerySet costs more than running it on PostgreSQL for the small indexed
reads a device makes before each call (bench/hot_paths.py: about 1 ms of Python per query against
0.4 ms in the database). ``@prepared`` keeps the rule where it is — a function that builds a
QuerySet from its arguments with the models' QuerySet methods — and caches only its compilation:

    @prepared
    def devices_of(*, school_ids: list[int], sn: str) -> QuerySet:
        return Device.objects.active().filter(school_id__in=school_ids, sn=sn)

    devices_of(school_ids=[1, 2], sn="SN1")  # → list of Device, one query, no query building

The first call on a connection builds the QuerySet with stand-in values ("markers") of the
arguments' annotated types (``str``, ``int``, ``datetime``, ``list[int]``, ``list[str]``,
each optionally ``| None``), compiles it, and notes where each marker landed among the SQL
parameters; every call then executes that SQL with the real values in the markers' places and
turns the rows into what the QuerySet would have given (model instances with their
``select_related`` objects and annotations, ``values()`` dicts or ``values_list()`` tuples), with
the fields' database converters applied. One compilation per connection, per length of each list
argument and per argument that is None (a None may change the SQL, e.g. ``IS NULL``).

Compiling twice with different markers checks that the SQL does not depend on the values, that
every argument reached the parameters unchanged and that no marker was written into the SQL text;
a builder that breaks this (computing with an argument, ``__startswith``, prefetching) raises
``ImproperlyConfigured`` on its first call, so its test fails — never a wrong answer. Why not a
library: django-prepared-queries (last release 2019) and django-query-preparer (2020) are
unmaintained and predate Django 5.
"""

import functools
import inspect
import types
import typing
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.core.exceptions import EmptyResultSet, ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    ValuesIterable,
    ValuesListIterable,
    get_related_populators,
)
from django.db.transaction import TransactionManagementError

_SCALARS = (str, int, datetime)
_ALL: "weakref.WeakSet[PreparedQuery]" = weakref.WeakSet()


def forget_compiled() -> None:
    """Drop every compilation, so that the next calls build their QuerySets again: for tests that
    change a QuerySet method (a compilation would otherwise keep the rule it was built with)."""
    for query in list(_ALL):
        query._compiled.clear()  # noqa: SLF001 (this module's own)


def _kind(annotation) -> tuple[type, bool, bool]:
    """``(scalar type, is a list, may be None)`` of an argument's annotation."""
    optional = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0] if len(args) == 1 else None
    if typing.get_origin(annotation) is list and typing.get_args(annotation)[0] in _SCALARS:
        return typing.get_args(annotation)[0], True, optional
    if annotation in _SCALARS:
        return annotation, False, optional
    raise ImproperlyConfigured(f"@prepared arguments are str, int, datetime or lists of them, not {annotation}")


class _Markers:
    """Stand-in values, distinct from each other and from anything real, of one compilation."""

    def __init__(self, seed: int):
        self.seed = seed
        self.count = 0

    def __call__(self, scalar: type):
        self.count += 1
        n = self.seed * 101 + self.count  # the two compilations' markers differ in parity, too
        if scalar is str:
            return f"\ue000Prepared-{n}\ue001"  # mixed case: a lower() or upper() of it is caught
        if scalar is int:  # within every integer field's range, or Django compiles "no rows"
            return 31_000 + n
        return datetime(1971, 1, 1, tzinfo=UTC) + timedelta(microseconds=n)


class _Compiled:
    """One compilation: the SQL, where each argument goes in its parameters, and how rows become results."""

    def __init__(self, sql, params, slots, make_results, for_update=False):
        self.sql = sql
        self.params = params  # the compiled parameters, markers in place
        self.slots = slots  # [(parameter index, argument name, index in a list argument or None)]
        self.make_results = make_results
        self.for_update = for_update  # SELECT … FOR UPDATE: only inside a transaction, as Django checks


class PreparedQuery:
    """A QuerySet builder whose compilation is cached (see the module); call it with keyword arguments."""

    def __init__(self, build: Callable[..., QuerySet]):
        functools.update_wrapper(self, build)
        self.build = build
        hints = typing.get_type_hints(build)
        self.kinds = {
            name: _kind(hints[name])
            for name, p in inspect.signature(build).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        }
        self._compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.alias = DEFAULT_DB_ALIAS  # the database the first compilation's QuerySet was routed to
        _ALL.add(self)

    def __call__(self, **kwargs) -> list:
        """The rows of the QuerySet ``build(**kwargs)`` would give, as it would give them."""
        key = tuple(
            None if kwargs[name] is None else (len(kwargs[name]) if is_list else 0)
            for name, (_, is_list, _) in self.kinds.items()
        )
        connection = connections[self.alias]
        per_connection = self._compiled.setdefault(connection, {})
        compiled = per_connection.get(key)
        if compiled is None:
            compiled = per_connection[key] = self._compile(connection, kwargs)
        if compiled.sql is None:
            return []
        if compiled.for_update and connection.get_autocommit():
            # Django checks this when it compiles, so once per connection here: checked on every call.
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        params = list(compiled.params)
        adapt = connection.ops.adapt_datetimefield_value
        for index, name, item in compiled.slots:
            value = kwargs[name] if item is None else kwargs[name][item]
            params[index] = adapt(value) if isinstance(value, datetime) else value
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        return compiled.make_results(rows, connection)

    def _build(self, markers: _Markers, kwargs: dict) -> tuple[QuerySet, dict]:
        stand_ins = {}
        for name, (scalar, is_list, _) in self.kinds.items():
            if kwargs[name] is None:
                stand_ins[name] = None
            elif is_list:
                stand_ins[name] = [markers(scalar) for _ in kwargs[name]]
            else:
                stand_ins[name] = markers(scalar)
        queryset = self.build(**stand_ins)
        if not isinstance(queryset, QuerySet):
            raise ImproperlyConfigured(f"@prepared {self.build.__qualname__} must return a QuerySet")
        return queryset, stand_ins

    def _compile(self, connection, kwargs: dict) -> _Compiled:
        first, second = (self._build(_Markers(seed), kwargs) for seed in (1, 2))
        (queryset, stand_ins), (other, other_stand_ins) = first, second
        if queryset.db != connection.alias:
            self.alias = queryset.db
            return self._compile(connections[queryset.db], kwargs)
        # The QuerySet's own state: what its iterables read (Django has no public accessor).
        if queryset._prefetch_related_lookups or queryset._known_related_objects:  # noqa: SLF001
            raise ImproperlyConfigured(f"@prepared {self.build.__qualname__}: no prefetching")
        compiler = queryset.query.get_compiler(connection=connection)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:  # ``__in`` an empty list: no rows, as Django answers
            if any(kwargs[name] == [] for name, (_, is_list, _) in self.kinds.items() if is_list):
                return _Compiled(None, (), [], lambda rows, connection: [])
            raise ImproperlyConfigured(f"@prepared {self.build.__qualname__}: no rows whatever the arguments") from None
        other_sql, other_params = other.query.get_compiler(connection=connection).as_sql()
        slots = self._slots(connection, params, stand_ins)
        if sql != other_sql or slots != self._slots(connection, other_params, other_stand_ins):
            raise ImproperlyConfigured(f"@prepared {self.build.__qualname__}: the SQL depends on the arguments")
        placed = {(name, item) for _, name, item in slots}
        for name, value in stand_ins.items():
            for item, marker in enumerate(value) if isinstance(value, list) else [(None, value)]:
                if marker is not None and ((name, item) not in placed or str(marker) in sql):
                    raise ImproperlyConfigured(
                        f"@prepared {self.build.__qualname__}: argument {name!r} does not reach the SQL unchanged"
                    )
        for_update = queryset.query.select_for_update and connection.features.has_select_for_update
        return _Compiled(sql, tuple(params), slots, _results(queryset, compiler), for_update)

    @staticmethod
    def _slots(connection, params, stand_ins) -> list[tuple[int, str, int | None]]:
        where = {}
        for name, value in stand_ins.items():
            for item, marker in enumerate(value) if isinstance(value, list) else [(None, value)]:
                if marker is not None:
                    adapted = marker
                    if isinstance(marker, datetime):
                        adapted = connection.ops.adapt_datetimefield_value(marker)
                    where[(type(adapted), adapted)] = (name, item)
        return [(index, *where[(type(p), p)]) for index, p in enumerate(params) if (type(p), p) in where]


def _results(queryset: QuerySet, compiler) -> Callable:
    """Rows → what iterating ``queryset`` gives (Django's own iterables' steps, set up once)."""
    columns = [s[0] for s in compiler.select[0 : compiler.col_count]]
    converters = list(compiler.get_converters(columns).items())
    db = queryset.db

    def convert(rows, connection):
        if compiler.has_extra_select:  # ordering columns the compiler added, as execute_sql trims them
            rows = [row[: compiler.col_count] for row in rows]
        if not converters:
            return rows
        out = []
        for row in rows:
            row = list(row)
            for pos, (functions, expression) in converters:
                value = row[pos]
                for function in functions:
                    value = function(value, expression, connection)
                row[pos] = value
            out.append(row)
        return out

    iterable = queryset._iterable_class  # noqa: SLF001 (see _compile)
    if iterable is ModelIterable:
        klass_info, select = compiler.klass_info, compiler.select
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        init_list = [f[0].target.attname for f in select[start:end]]
        populators = get_related_populators(klass_info, select, db)
        annotations = list(compiler.annotation_col_map.items())
        model = klass_info["model"]

        def models(rows, connection):
            objects = []
            for row in convert(rows, connection):
                obj = model.from_db(db, init_list, row[start:end])
                for populator in populators:
                    populator.populate(row, obj)
                for name, pos in annotations:
                    setattr(obj, name, row[pos])
                objects.append(obj)
            return objects

        return models
    query = queryset.query
    if iterable is ValuesIterable:
        names = list(query.selected or [*query.extra_select, *query.values_select, *query.annotation_select])
        return lambda rows, connection: [dict(zip(names, row, strict=False)) for row in convert(rows, connection)]
    if iterable is FlatValuesListIterable:
        return lambda rows, connection: [row[0] for row in convert(rows, connection)]
    if iterable is ValuesListIterable:  # the SELECT is in the order values_list() names (Django 5.2)
        return lambda rows, connection: [tuple(row) for row in convert(rows, connection)]
    raise ImproperlyConfigured(f"@prepared: {iterable.__name__} is not supported")


def prepared(build: Callable[..., QuerySet]) -> PreparedQuery:
    """Decorate a QuerySet builder with keyword-only, annotated arguments (see the module)."""
    return PreparedQuery(build)
