"""Benchmark: a 10,000-row student roster through ``contacts.resources.StudentResource`` (bulk)
against django-import-export's default row-by-row ``ModelResource``, side by side in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/import_roster.py [--rows 10000]

It migrates the database it is given, creates two throwaway schools (one per resource, since
``user_id`` is unique across schools) and times ``import_data`` of the same generated CSV:

1. new: into the empty school (every row created);
2. re-import: the same file with 10 % of the names changed (upsert);
3. re-import with every row changed (a new school year: every class changes);

plus, for the bulk resource only, the admin's preview (a dry run, rolled back) and a background
``ImportJob`` (``schools.roster.runner.import_job_run``: check every row, then one transaction) of a
third school. The default resource uses the library's defaults (a query per row to find the
row, ``save()`` per row in a savepoint, a diff per row) with ``clean_model_instances`` on, so
that both check each row the same way. Everything it created is deleted at the end.
"""

import argparse
import csv
import io
import os
import sys
import time
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
from import_export import resources

from contacts.resources import StudentResource
from schools.models import ImportJob, School, Student
from schools.roster.formats import RosterCSV
from schools.roster.runner import import_job_run

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
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    rows = args.rows

    call_command("migrate", verbosity=0)
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
    print("\n".join(lines))


if __name__ == "__main__":
    main()
