"""Benchmark: the admin's student changelist, its search and its grade and class filters at 1,000 and at
1,000,000 students, side by side in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/changelist.py \\
        [--quick] [--rounds 7] [--keep]

It makes two PostgreSQL schemas in the database it is given, ``changelist_small`` (one school of
1,000 students) and ``changelist_large`` (1,000 schools of 1,000 students; ``--quick``: 100
schools, 100,000 students), migrates each and fills the students with ``INSERT … SELECT
generate_series``: Chinese names of two and three characters, ``wxfp_`` user_ids, student numbers,
and a third each of primary schools (一年级–六年级, 3 classes a grade), middle schools
(七年级–九年级, 6 classes) and twelve-year schools (一年级–十二年级, 1 class): 55 to 83 students a
class, so that every filtered page shows a full page of 50 at either size. School 0 is the same in
both schemas, student for student, so its staff user sees the same rows in both; the other 999
schools are what differs.
Then it times Django's test client (``DEBUG`` off, persistent connections) as a superuser and as
school 0's staff user on each of:

1. the changelist page (``/admin/schools/student/``);
2. a search by a student's name of three characters and of two, and by the pinyin initials of
   the first (``?q=``; the trigram indexes of the doubled text serve them);
3. the grade filter (``?grade=三年级``) and the class filter (``?class_name=三年级2班``);

small and large alternating in each round (which goes first alternates too), after one warm-up
round, and prints the median of ``--rounds`` rounds per request with the ratio large/small (the
target: ≤ 2×) and the queries each request ran. ``--keep`` leaves the schemas for the next run
(which then skips generating them); by default both are dropped at the end.
"""

import argparse
import contextvars
import copy
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")  # a developer's machine
os.environ.setdefault("DEBUG", "0")  # timings without DEBUG's query log
os.environ.setdefault("WECHAT_SANDBOX", "0")  # the sandbox needs DEBUG (and the admin never talks to WeChat)

from django.conf import settings

SCHEMAS = {"small": "changelist_small", "large": "changelist_large"}
ALIAS = contextvars.ContextVar("bench_alias", default="small")


class BenchRouter:
    """Every model to the schema being timed (``ALIAS``); each schema is a database alias."""

    def db_for_read(self, model, **hints):
        return ALIAS.get()

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, **hints):
        return True


base = settings.DATABASES["default"]
if base["ENGINE"] != "django.db.backends.postgresql":
    sys.exit("bench/changelist.py needs PostgreSQL: set DATABASE_URL=postgres://…")
settings.DATABASES = {}
for alias, schema in SCHEMAS.items():
    database = copy.deepcopy(base)
    database["CONN_MAX_AGE"] = 600  # what production runs with; a connection per request is another benchmark
    database.setdefault("OPTIONS", {})["options"] = f"-c search_path={schema},public"
    settings.DATABASES[alias] = database
settings.DATABASES["default"] = settings.DATABASES["small"]
settings.DATABASE_ROUTERS = [BenchRouter()]
settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]

import django

django.setup()

from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import connections
from django.test import Client

from schools.models import School, StaffMembership, Student
from schools.pinyin import name_initials

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "子涵梓萱浩宇欣怡一诺思琪雨泽俊杰佳怡宇轩梓涵诗涵铭睿博文晨曦若汐嘉懿可馨天佑明轩紫萱雅静家豪志强秀英"
    "建华晓东丽娟海燕春梅永刚文杰安琪乐瑶"
)
GRADES = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"]
SCHOOL_SIZE = 1_000
# Each name character's pinyin initial, as Student.save() writes them (schools.pinyin), for translate():
# a surname's as a surname's (the first character), the given name's as they are read elsewhere.
INITIALS = {
    "surname_initials": "".join(name_initials(c) for c in SURNAMES),
    "given_initials": "".join(name_initials("王" + c)[1:] for c in GIVEN),
}
assert all(len(INITIALS[k]) == len(chars) for k, chars in (("surname_initials", SURNAMES), ("given_initials", GIVEN)))

# One row per (school, n): school kind = school index % 3 (primary, middle, twelve-year). The same
# school code and n give the same student in either schema.
STUDENTS_SQL = """
INSERT INTO schools_student
    (school_id, user_id, name, name_initials, grade, class_name, student_number, avatar_url, is_active, created_at,
     updated_at)
SELECT s.id, 'wxfp_' || md5(s.code || ':' || n), x.name,
       translate(substr(x.name, 1, 1), %(surnames)s, %(surname_initials)s)
           || translate(substr(x.name, 2), %(given)s, %(given_initials)s),
       x.grade, x.grade || x.class_no || '班', '2024' || lpad(n::text, 5, '0'), '', true, now(), now()
FROM schools_school s
CROSS JOIN generate_series(0, %(size)s - 1) AS n
CROSS JOIN LATERAL (SELECT (regexp_match(s.code, '(\\d+)$'))[1]::int %% 3 AS kind,
                           hashtext(s.code || ':' || n) & 2147483647 AS h) AS k
CROSS JOIN LATERAL (
    SELECT g.grade, c.class_no, nm.name
    FROM (SELECT CASE k.kind WHEN 0 THEN (n %% 18) / 3 WHEN 1 THEN 6 + (n %% 18) / 6 ELSE n %% 12 END AS gi,
                 CASE k.kind WHEN 0 THEN (n %% 18) %% 3 WHEN 1 THEN (n %% 18) %% 6 ELSE 0 END + 1 AS class_no) AS c
    CROSS JOIN LATERAL (SELECT (%(grades)s::text[])[c.gi + 1] || '年级' AS grade) AS g
    CROSS JOIN LATERAL (
        SELECT substr(%(surnames)s::text, 1 + k.h %% char_length(%(surnames)s::text), 1)
               || substr(%(given)s::text, 1 + (k.h / 97) %% char_length(%(given)s::text), 1)
               || CASE WHEN (k.h / 7) %% 3 = 0 THEN ''
                       ELSE substr(%(given)s::text, 1 + (k.h / 9973) %% char_length(%(given)s::text), 1) END AS name
    ) AS nm
) AS x
WHERE s.code LIKE 'bench-%%'
"""


def using(alias):
    """Run the block's ORM calls (and the client's requests) against ``alias``'s schema."""

    class _Using:
        def __enter__(self):
            self.token = ALIAS.set(alias)

        def __exit__(self, *exc):
            ALIAS.reset(self.token)

    return _Using()


def prepare(alias: str, schools: int) -> int:
    """Create, migrate and fill ``alias``'s schema, unless a kept one already has its students."""
    connection = connections[alias]
    schema = SCHEMAS[alias]
    expected = schools * SCHOOL_SIZE
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
        cursor.execute("SELECT to_regclass(%s)", [f"{schema}.schools_student"])
        if cursor.fetchone()[0]:
            cursor.execute(f"SELECT count(*) FROM {schema}.schools_student")
            if cursor.fetchone()[0] == expected:
                with using(alias):
                    call_command("migrate", database=alias, verbosity=0)  # a kept schema of an older run
                return expected
        cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        cursor.execute(f"CREATE SCHEMA {schema}")
    with using(alias):
        call_command("migrate", database=alias, verbosity=0)
        School.objects.bulk_create(
            [School(name=f"基准第{i}小学", code=f"bench-{i:04d}") for i in range(schools)], batch_size=1000
        )
        start = time.perf_counter()
        with connection.cursor() as cursor:
            params = {"size": SCHOOL_SIZE, "grades": GRADES, "surnames": SURNAMES, "given": GIVEN, **INITIALS}
            cursor.execute(STUDENTS_SQL, params)
            cursor.execute("VACUUM ANALYZE schools_student")  # statistics, reltuples, the visibility map
        print(f"{alias}: {expected:,} students generated in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        return Student.objects.count()


def clients(alias: str) -> dict[str, Client]:
    """A logged-in test client per role: the superuser and school 0's staff (view students)."""
    with using(alias):
        root, _ = User.objects.get_or_create(username="bench-root", defaults={"is_staff": True, "is_superuser": True})
        staff, _ = User.objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
        school = School.objects.get(code="bench-0000")
        StaffMembership.objects.get_or_create(user=staff, defaults={"school": school})
        staff.user_permissions.set(Permission.objects.filter(codename__in=["view_student", "change_student"]))
        result = {}
        for role, user in (("superuser", root), ("staff", staff)):
            result[role] = Client()
            result[role].force_login(User.objects.get(pk=user.pk))  # fresh: no cached permissions
        return result


class QueryCounter:
    """Queries and the time spent in them (ms)."""

    def __init__(self):
        self.count = 0
        self.ms = 0.0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.ms += (time.perf_counter() - start) * 1000


def timed_get(alias: str, client: Client, url: str, expect: str | None) -> tuple[float, QueryCounter, int]:
    """Milliseconds, queries and rows shown of one request (status 200, ``expect`` in the page if given)."""
    counter = QueryCounter()
    with using(alias), connections[alias].execute_wrapper(counter):
        start = time.perf_counter()
        response = client.get(url)
        ms = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, (alias, url, response.status_code)
    page = response.content.decode()
    assert expect is None or expect in page, (alias, url, expect)
    return ms, counter, page.count('class="action-select"')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 students instead of 1,000,000")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep both schemas for the next run")
    args = parser.parse_args()
    large_schools = 100 if args.quick else 1_000

    try:
        sizes = {"small": prepare("small", 1), "large": prepare("large", large_schools)}
        users = {alias: clients(alias) for alias in SCHEMAS}
        with using("small"):
            three = Student.objects.filter(school__code="bench-0000", name__regex=r"^...$").order_by("id").first()
            two = Student.objects.filter(school__code="bench-0000", name__regex=r"^..$").order_by("id").first()
        changelist = "/admin/schools/student/"
        requests = [
            ("page", changelist, None),
            (f"search ?q={three.name} (3 characters)", f"{changelist}?q={three.name}", three.user_id),
            (f"search ?q={two.name} (2 characters)", f"{changelist}?q={two.name}", two.user_id),
            (f"search ?q={three.name_initials} (pinyin initials)", f"{changelist}?q={three.name_initials}", None),
            ("grade filter ?grade=三年级", f"{changelist}?grade=三年级", None),
            ("class filter ?class_name=三年级2班", f"{changelist}?class_name=三年级2班", None),
        ]
        timings = {}  # (role, label, alias) → [(ms, SQL ms)]
        queries, rows = {}, {}
        for round_no in range(args.rounds + 1):  # round 0 warms up
            for role in ("superuser", "staff"):
                for label, url, expect in requests:
                    order = ("small", "large") if round_no % 2 else ("large", "small")
                    for alias in order:
                        ms, counter, shown = timed_get(alias, users[alias][role], url, expect)
                        if round_no:
                            timings.setdefault((role, label, alias), []).append((ms, counter.ms))
                            queries[role, label, alias], rows[role, label, alias] = counter.count, shown

        server = f"PostgreSQL {connections['small'].pg_version // 10000}"
        small, large = f"{sizes['small']:,}", f"{sizes['large']:,}"
        print(f"Student changelist, {server}, median of {args.rounds} rounds: ms per request (ms in SQL, queries)")
        print()
        print(f"| user | request | rows shown | {small} students | {large} students | ratio |")
        print("|---|---|---|---|---|---|")
        for role in ("superuser", "staff"):
            for label, _url, _expect in requests:
                cells = []
                for alias in ("small", "large"):
                    ms = statistics.median(t[0] for t in timings[role, label, alias])
                    sql_ms = statistics.median(t[1] for t in timings[role, label, alias])
                    cells.append((ms, f"{ms:.0f} ({sql_ms:.1f}, {queries[role, label, alias]})"))
                shown = f"{rows[role, label, 'small']} / {rows[role, label, 'large']}"
                ratio = cells[1][0] / cells[0][0]
                print(f"| {role} | {label} | {shown} | {cells[0][1]} | {cells[1][1]} | {ratio:.2f}× |")
    finally:
        if not args.keep:
            for alias, schema in SCHEMAS.items():
                with connections[alias].cursor() as cursor:
                    cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main()
