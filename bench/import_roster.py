"""Benchmark: a 100,000-row student roster through the background import job's COPY path against
PostgreSQL's COPY of the same rows, side by side in one run, with the resource path it replaced and
django-import-export's default row-by-row import.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_import .venv/bin/python bench/import_roster.py [--quick]
        [--rows 100000] [--default-rows 10000] [--rounds 3] [--resources]

It migrates the database it is given, generates the CSV (``--rows`` students, the columns an export
has) and times, interleaved, ``--rounds`` rounds, each on a school of its own deleted afterwards:

1. the floor: ``COPY … FROM STDIN (FORMAT csv)`` of the same file's bytes, from psycopg, into a new
   table of the students' shape (``LIKE schools_student INCLUDING ALL``: columns, defaults, check,
   every index; plus the foreign key to the school, deferred as Django makes it), committed;
   and, for reference, into a table of the same columns without index or key;
2. the COPY path: ``import_job_run`` of an ``ImportJob`` of the file (``schools.roster.copy``:
   stream, stage, check, merge, commit), then of the same file with 10 % of the names changed;
3. the resource path it replaced (``IMPORT_JOB_COPY`` off: ``StudentResource``, check every row,
   then one transaction), the same two files;
4. django-import-export's default ``ModelResource`` (a query per row, ``save()`` per row, a diff
   per row) on ``--default-rows`` students only (it takes about 15 minutes at 100,000): its rate
   per row, and the time at ``--rows`` that rate gives.

Then the peak of Python's memory (``tracemalloc``) of one run of each job path at 10,000 rows and at
``--rows``, apart from the timed rounds (after a small run of each, so that what any run imports
and caches is not counted): the COPY path's does not grow with the file. ``--quick``:
5,000 rows (1,000 for the default), 2 rounds. ``--resources``: the earlier comparison instead
(bulk ``StudentResource`` against the default at ``--rows``, 10,000 by default). Target (issue 11):
the COPY path ≤ 3× the floor.
"""

import argparse
import csv
import io
import os
import statistics
import sys
import time
import tracemalloc
import uuid
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")  # a developer's machine
os.environ.setdefault("DEBUG", "0")  # timings without DEBUG's query log
os.environ.setdefault("WECHAT_SANDBOX", "0")  # the sandbox needs DEBUG (and an import never talks to WeChat)

import django

django.setup()

import import_export
from django.core.management import call_command
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import override_settings
from import_export import resources

from contacts.resources import StudentResource
from contacts.roster_copy import StudentCopyImport
from schools.models import ImportJob, School, Student
from schools.roster.copy import CopyImport
from schools.roster.formats import RosterCSV
from schools.roster.runner import import_job_run

STUDENTS = Student._meta.db_table
SCHOOLS = School._meta.db_table
HEADERS = ["user_id", "name", "grade", "class_name", "student_number", "avatar_url"]
GRADES = ["一年级", "二年级", "三年级", "四年级", "五年级", "六年级"]


class DefaultStudentResource(resources.ModelResource):
    """django-import-export's defaults for the same columns, upserting by ``user_id``."""

    def __init__(self, school, **kwargs):
        super().__init__(**kwargs)
        self.school = school

    def init_instance(self, row=None):
        return Student(school=self.school)

    class Meta:
        model = Student
        fields = tuple(HEADERS)
        import_id_fields = ("user_id",)
        clean_model_instances = True


def roster_csv(prefix: str, rows: int, renamed_every: int = 0, suffix: str = "改") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    for i in range(rows):
        grade = GRADES[i % 6]
        name = f"学生{i}" + (suffix if renamed_every and i % renamed_every == 0 else "")
        writer.writerow([f"wxfp_{prefix}_{i:08d}", name, grade, f"{grade}{i % 10 + 1}班", f"{prefix}{i:08d}", ""])
    return out.getvalue().encode()


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def timed(fn):
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
    return seconds, counter.count, result


def run_import(resource, data: bytes, *, dry_run=False):
    dataset = RosterCSV().create_dataset(data)
    result = resource.import_data(dataset, dry_run=dry_run, raise_errors=True)
    assert not result.has_errors() and not result.has_validation_errors(), result.invalid_rows[:3]
    return result.totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows, 2 rounds: a smoke run")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--default-rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--resources", action="store_true", help="the earlier bulk-against-default comparison")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    if args.resources:
        print(resources_comparison(args.rows or 10_000))
        return
    if args.quick:
        args.rows, args.default_rows, args.rounds = args.rows or 5_000, 1_000, 2
    print(copy_comparison(args.rows or 100_000, args.default_rows, args.rounds))


class Phases:
    """Seconds spent in the COPY path's steps, per run (wraps the importer's methods and the commit)."""

    STEPS = (
        (CopyImport, "stage"),
        (StudentCopyImport, "_classify"),
        (StudentCopyImport, "_check_fields"),
        (StudentCopyImport, "_check_numbers"),
        (StudentCopyImport, "write"),
        (BaseDatabaseWrapper, "commit"),
    )

    def __init__(self):
        self.runs: list[dict] = []
        self.current: dict | None = None
        self.originals = [(owner, name, getattr(owner, name)) for owner, name in self.STEPS]
        for owner, name, method in self.originals:
            setattr(owner, name, self._timed(name, method))

    def _timed(self, name, method):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                if self.current is not None:
                    self.current[name] = self.current.get(name, 0) + time.perf_counter() - start

        return timed

    def restore(self):
        for owner, name, method in self.originals:
            setattr(owner, name, method)


def job_run(school, data: bytes, *, copy: bool) -> float:
    """Seconds of ``import_job_run`` of a new job of ``data`` (the COPY path or the resource path)."""
    job = ImportJob.objects.create(school=school, kind="students", file_name="bench.csv", file_format="csv", data=data)
    with override_settings(IMPORT_JOB_COPY=copy):
        start = time.perf_counter()
        status = import_job_run(job.pk)
        seconds = time.perf_counter() - start
    job.refresh_from_db()
    assert status == "done", job.errors[:3]
    return seconds


def floor_copy(data: bytes, school, *, shape: bool) -> float:
    """Seconds of COPY of ``data`` into a new table of the students' shape (``shape``) or of their
    columns only, committed (the deferred foreign key checked then); the table is dropped after."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_floor")
        if shape:
            cursor.execute(f"CREATE TABLE bench_floor (LIKE {STUDENTS} INCLUDING ALL)")
            cursor.execute(
                f"ALTER TABLE bench_floor ADD FOREIGN KEY (school_id) REFERENCES {SCHOOLS} (id) "
                "DEFERRABLE INITIALLY DEFERRED"
            )
        else:
            cursor.execute(
                "CREATE TABLE bench_floor (id bigint GENERATED BY DEFAULT AS IDENTITY, school_id bigint NOT NULL, "
                "user_id varchar(128) NOT NULL, name varchar(64) NOT NULL, grade varchar(32) NOT NULL, "
                "class_name varchar(32) NOT NULL, student_number varchar(32) NOT NULL, avatar_url varchar(500) "
                "NOT NULL, is_active boolean NOT NULL, created_at timestamptz NOT NULL, "
                "updated_at timestamptz NOT NULL)"
            )
        cursor.execute(
            "ALTER TABLE bench_floor ALTER school_id SET DEFAULT %s, ALTER is_active SET DEFAULT true, "
            "ALTER created_at SET DEFAULT now(), ALTER updated_at SET DEFAULT now()" % int(school.pk)
        )
    columns = ", ".join(HEADERS)
    sql = f"COPY bench_floor ({columns}) FROM STDIN (FORMAT csv, HEADER true, FORCE_NOT_NULL ({columns}))"
    start = time.perf_counter()
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for offset in range(0, len(data), 1 << 16):
            copy.write(data[offset : offset + (1 << 16)])
    seconds = time.perf_counter() - start  # autocommit: the COPY committed with its statement
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_floor")
    return seconds


def default_import(school, data: bytes) -> float:
    start = time.perf_counter()
    run_import(DefaultStudentResource(school), data)
    return time.perf_counter() - start


def peak_memory(school, data: bytes, *, copy: bool) -> int:
    """Peak bytes of Python memory (``tracemalloc``) while a job of ``data`` runs."""
    job = ImportJob.objects.create(school=school, kind="students", file_name="bench.csv", file_format="csv", data=data)
    tracemalloc.start()
    try:
        with override_settings(IMPORT_JOB_COPY=copy):
            assert import_job_run(job.pk) == "done"
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def new_school(label: str):
    code = f"bench-{label}-{uuid.uuid4().hex[:8]}"
    return School.objects.create(name=code, code=code[:32])


def drop_school(school) -> None:
    """The school, its jobs and students (one DELETE: no student of a bench has anything of its own),
    then VACUUM, so that every run starts from the same table."""
    ImportJob.objects.filter(school=school).delete()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {STUDENTS} WHERE school_id = %s", [school.pk])
    school.delete()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {STUDENTS}")


def student_indexes() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", [STUDENTS])
        return cursor.fetchone()[0]


def median(values) -> float:
    return statistics.median(values)


def copy_comparison(rows: int, default_rows: int, rounds: int) -> str:
    assert connection.vendor == "postgresql", "the COPY path is PostgreSQL's"
    times: dict[str, list[float]] = {}
    phases = Phases()
    floor_school = new_school("floor")
    try:
        for round_ in range(rounds):
            tag = f"r{round_}{uuid.uuid4().hex[:6]}"
            new, renamed = roster_csv(tag, rows), roster_csv(tag, rows, renamed_every=10)
            times.setdefault("floor", []).append(floor_copy(new, floor_school, shape=True))
            times.setdefault("floor columns", []).append(floor_copy(new, floor_school, shape=False))
            for path, copy in (("copy", True), ("resource", False)):
                school = new_school(path)
                try:
                    phases.current = {} if copy else None
                    times.setdefault(f"{path} new", []).append(job_run(school, new, copy=copy))
                    if copy:
                        phases.runs.append(phases.current)
                        phases.current = None
                    times.setdefault(f"{path} re-import", []).append(job_run(school, renamed, copy=copy))
                finally:
                    phases.current = None
                    drop_school(school)
            school = new_school("default")
            try:
                times.setdefault("default", []).append(default_import(school, roster_csv(f"d{tag}", default_rows)))
            finally:
                drop_school(school)
        phases.restore()
        memory = {}
        for copy in (True, False):  # a first run imports and caches what any run needs: not measured
            school = new_school("warm")
            try:
                peak_memory(school, roster_csv(f"w{copy:d}", 100), copy=copy)
            finally:
                drop_school(school)
        for size in sorted({min(10_000, rows), rows}):
            for path, copy in (("copy", True), ("resource", False)):
                school = new_school(f"mem{path}")
                try:
                    memory[path, size] = peak_memory(school, roster_csv(f"m{size}{path}", size), copy=copy)
                finally:
                    drop_school(school)
    finally:
        phases.restore()
        drop_school(floor_school)

    floor, columns_floor = median(times["floor"]), median(times["floor columns"])
    default_per_row = median(times["default"]) / default_rows
    server = f"PostgreSQL {connection.pg_version // 10000}"
    lines = [
        f"{rows:,} students, {server}, django-import-export {import_export.__version__}, "
        f"median of {rounds} rounds, interleaved",
        "",
        f"| {rows:,} students | seconds | rows/s | × COPY (same shape) | × COPY (columns only) |",
        "|---|---|---|---|---|",
    ]

    def line(label, seconds, note=""):
        lines.append(
            f"| {label} | {seconds:.2f}{note} | {rows / seconds:,.0f} | {seconds / floor:.2f}× | "
            f"{seconds / columns_floor:.2f}× |"
        )

    shape = f"{student_indexes()} indexes, check, deferred FK"
    line(f"COPY into a table of the students' shape ({shape}): the floor", floor)
    line("COPY into a table of the same columns, no index or key", columns_floor)
    line("**COPY path**: new file (all created)", median(times["copy new"]))
    line(f"**COPY path**: re-import, {rows // 10:,} renamed (upsert)", median(times["copy re-import"]))
    line("resource path (before): new file", median(times["resource new"]))
    line(f"resource path (before): re-import, {rows // 10:,} renamed", median(times["resource re-import"]))
    line(
        f"django-import-export default, at {default_rows:,} rows × {rows // default_rows}",
        default_per_row * rows,
        f" (measured {median(times['default']):.2f} s)",
    )
    steps = {name: median([run.get(name, 0.0) for run in phases.runs]) for _, name in Phases.STEPS}
    sizes = sorted({size for _, size in memory})
    lines += [
        "",
        "COPY path, new file, median seconds by step: "
        + ", ".join(f"{name.strip('_')} {seconds:.2f}" for name, seconds in steps.items()),
        "",
        "| peak Python memory (tracemalloc) | " + " | ".join(f"{size:,} rows" for size in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for path, label in (("copy", "COPY path"), ("resource", "resource path (before)")):
        lines.append(f"| {label} | " + " | ".join(f"{memory[path, size] / 2**20:.1f} MiB" for size in sizes) + " |")
    ratio = median(times["copy new"]) / floor
    lines += ["", f"Target ≤ 3× COPY (same shape): {'met' if ratio <= 3 else 'missed'} ({ratio:.2f}×)."]
    return "\n".join(lines)


def resources_comparison(rows: int) -> str:
    """The earlier comparison: bulk ``StudentResource`` against the default, new and re-imported files."""
    stamp = time.strftime("%H%M%S")
    schools = {
        kind: School.objects.create(name=f"bench {kind} {stamp}", code=f"bench-{kind}-{stamp}")
        for kind in ("bulk", "default", "job")
    }
    lines = []
    try:
        results = {}
        for kind, make in (("bulk", lambda s: StudentResource(school=s)), ("default", DefaultStudentResource)):
            school, prefix = schools[kind], f"{kind[0]}{stamp}"
            files = {
                "new": roster_csv(prefix, rows),
                "re-import": roster_csv(prefix, rows, renamed_every=10),
                "all changed": roster_csv(prefix, rows, renamed_every=1, suffix="升"),
            }
            for step, data in files.items():
                results[kind, step] = timed(partial(run_import, make(school), data))
            assert Student.objects.filter(school=school).count() == rows
        preview = StudentResource(school=schools["bulk"], show_diff=True)
        results["bulk", "preview"] = timed(partial(run_import, preview, roster_csv(f"b{stamp}", rows, 7), dry_run=True))
        job = ImportJob.objects.create(
            school=schools["job"],
            kind="students",
            file_name="bench.csv",
            file_format="csv",
            data=roster_csv(f"j{stamp}", rows),
        )
        results["bulk", "job"] = timed(partial(import_job_run, job.pk))
        assert ImportJob.objects.get(pk=job.pk).status == "done"

        server = (
            f"PostgreSQL {connection.pg_version // 10000}" if connection.vendor == "postgresql" else connection.vendor
        )
        lines.append(f"{rows:,} rows, {server}, django-import-export {import_export.__version__}")
        lines.append(f"{'':32} {'bulk (StudentResource)':>26} {'default row-by-row':>26} {'ratio':>8}")
        steps = (
            ("new", f"new ({rows:,} created)"),
            ("re-import", f"re-import ({rows // 10:,} renamed)"),
            ("all changed", f"re-import (all {rows:,} renamed)"),
        )
        for step, label in steps:
            bulk, default = results["bulk", step], results["default", step]
            bulk_column = f"{bulk[0]:>9.2f} s {bulk[1]:>6} queries"
            default_column = f"{default[0]:>9.2f} s {default[1]:>6} queries"
            lines.append(f"{label:32} {bulk_column} {default_column} {default[0] / bulk[0]:>7.1f}x")
        for step, label in (("preview", "admin preview (dry run)"), ("job", "background job (new rows)")):
            seconds, queries, _ = results["bulk", step]
            lines.append(f"{label:32} {seconds:>9.2f} s {queries:>6} queries")
        for kind in ("bulk", "default"):
            totals = {k: v for k, v in results[kind, "re-import"][2].items() if v}
            lines.append(f"re-import rows by outcome, {kind}: {totals}")
    finally:
        for school in schools.values():
            ImportJob.objects.filter(school=school).delete()
            Student.objects.filter(school=school).delete()
            school.delete()
    return "\n".join(lines)


if __name__ == "__main__":
    main()
