"""Benchmark: the share-link bind path against a raw-psycopg floor doing the same transaction.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_bind .venv/bin/python bench/bind.py [--quick]

Needs ``wrk`` and Redis (db 10). It migrates the database it is given and generates students, each
with a confirmed admin contact and an active share link, and parents logged in (bearer tokens),
enough that every bind of the run is a new (parent, student) pair: each is allowed (a reservation,
state ``pending``) until a student reaches its contact limit (10).

- The portal: ``POST /api/v1/share-links/<token>/bind`` under gunicorn (2 sync workers,
  production settings, ``deploy/gunicorn.conf.py``), the parent's bearer token in the header.
- The floor: the same work in raw SQL through psycopg under the same gunicorn
  (``bench/floor_app.py:bind_application``): the bearer token's parent, the link by its digest,
  then one transaction — the student's row lock (``FOR UPDATE``), the link re-read, the issuer
  still admin, no existing contact, the contact count, ``INSERT`` contact, audit row and outbox
  event, the event's receivers — and the outbox position in a second, advisory-locked one, as the
  portal does (``schools.services.events``).

``wrk`` drives each at 1 and 16 connections, interleaved, each run on pairs never used before.
Target (issue 11): the portal ≥ 0.3× the floor's binds per second.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))
sys.path.insert(0, str(BASE / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("WECHAT_SANDBOX", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from hot_paths import start_servers

from contacts.models import Contact, Parent, ParentToken, ShareLink
from core.tokens import token_hash, token_new
from schools.models import School, Student

PREFIX = "bench_bind"
PER_STUDENT = 9  # binds a student takes after its admin (contact limit 10)


def generate(pairs: int) -> tuple[list[str], list[str]]:
    """``pairs`` (share-link token, bearer token) pairs, each a new parent for a student with room."""
    _cleanup()
    school = School.objects.create(name=PREFIX, contact_limit=10)
    students_n = pairs // PER_STUDENT + 1
    Student.objects.bulk_create(
        [
            Student(school=school, user_id=f"{PREFIX}_u{i:06d}", name=f"学生{i}", grade="三年级")
            for i in range(students_n)
        ],
        batch_size=5000,
    )
    students = list(school.students.order_by("pk").values_list("pk", flat=True))
    Parent.objects.bulk_create(
        [Parent(openid=f"{PREFIX}_a{i:06d}", voip_scope_granted=True) for i in range(students_n)]
        + [Parent(openid=f"{PREFIX}_p{i:07d}", voip_scope_granted=True) for i in range(pairs)],
        batch_size=5000,
    )
    admins = list(
        Parent.objects.filter(openid__startswith=f"{PREFIX}_a").order_by("openid").values_list("pk", flat=True)
    )
    Contact.objects.bulk_create(
        [
            Contact(student_id=s, parent_id=a, role=1, bound_via=Contact.BoundVia.STAFF, state=Contact.State.CONFIRMED)
            for s, a in zip(students, admins, strict=True)
        ],
        batch_size=5000,
    )
    now = timezone.now()
    link_tokens = [token_new() for _ in students]
    ShareLink.objects.bulk_create(
        [
            ShareLink(token_hash=token_hash(t), student_id=s, issued_by_id=a, expires_at=now + timedelta(days=7))
            for t, s, a in zip(link_tokens, students, admins, strict=True)
        ],
        batch_size=5000,
    )
    parents = list(
        Parent.objects.filter(openid__startswith=f"{PREFIX}_p").order_by("openid").values_list("pk", flat=True)
    )
    bearers = [token_new() for _ in parents]
    ParentToken.objects.bulk_create(
        [
            ParentToken(token_hash=token_hash(b), parent_id=p, created_at=now, expires_at=now + timedelta(days=1))
            for b, p in zip(bearers, parents, strict=True)
        ],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return [link_tokens[i // PER_STUDENT] for i in range(pairs)], bearers


def _cleanup() -> None:
    school = School.objects.filter(name=PREFIX).first()
    Parent.objects.filter(openid__startswith=f"{PREFIX}_").delete()
    if school is not None:
        from schools.models import AuditLog, OutboxEvent

        OutboxEvent.objects.filter(school=school).delete()
        AuditLog.objects.filter(school=school).delete()
        Student.objects.filter(school=school).delete()
        school.delete()


def wrk_script(pairs_file: Path, floor: bool) -> str:
    """Each wrk thread takes every ``threads``-th pair from ``start`` (the script's argument) on; the
    pairs are read from ``pairs_file`` (a Lua chunk holds at most 65,536 constants)."""
    path = '"/bind/" .. p[1]' if floor else '"/api/v1/share-links/" .. p[1] .. "/bind"'
    return f"""
local pairs = {{}}
for line in io.lines("{pairs_file}") do
  local link, bearer = line:match("([^,]+),([^,]+)")
  pairs[#pairs + 1] = {{link, bearer}}
end
local counter = 0
local threads = {{}}
setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
init = function(args)
  start = tonumber(args[1])
  nthreads = tonumber(args[2])
  i = 0
end
request = function()
  local p = pairs[start + id + i * nthreads + 1]
  i = i + 1
  local headers = {{["Content-Type"]="application/json", ["Authorization"]="Bearer " .. p[2]}}
  return wrk.format("POST", {path}, headers, '{{"relation": "爸爸"}}')
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.3f %d %d\\n", summary.requests, summary.duration,
    latency:percentile(99), summary.errors.status, summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
"""


def run_wrk(url: str, script: Path, clients: int, seconds: float, offset: int) -> tuple[float, float, int]:
    threads = min(clients, 2)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{clients}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
            "--",
            str(offset),
            str(threads),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"RESULT (\d+) (\d+) ([\d.]+) (\d+) (\d+)", out)
    assert match, out  # wrk's own error (a script error) otherwise
    n, duration_us, p99_us, bad_status, socket_errors = match.groups()
    assert int(bad_status) == 0 and int(socket_errors) == 0, out
    return int(n) / (int(duration_us) / 1e6), float(p99_us) / 1000, int(n)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s per cell (a smoke run)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", default="1,16")
    parser.add_argument("--pairs", type=int, default=120_000)
    opts = parser.parse_args()
    if opts.quick:
        opts.rounds, opts.seconds, opts.pairs = 1, 2, 30_000
    clients = [int(c) for c in opts.clients.split(",")]

    call_command("migrate", verbosity=0)
    links, bearers = generate(opts.pairs)
    connection.close()
    tmp = Path(tempfile.mkdtemp(prefix="bench-bind-"))
    portal_script, floor_script = tmp / "portal.lua", tmp / "floor.lua"
    pairs_file = tmp / "pairs.csv"
    pairs_file.write_text("".join(f"{link},{bearer}\n" for link, bearer in zip(links, bearers, strict=True)))
    portal_script.write_text(wrk_script(pairs_file, floor=False))
    floor_script.write_text(wrk_script(pairs_file, floor=True))

    portal, floor = start_servers(
        tmp,
        18311,
        18312,
        "floor_app:bind_application",
        {"BIND_THROTTLE_RATE": "1000000/minute", "BIND_ADDRESS_THROTTLE_RATE": "100000000/minute"},
        {"FLOOR_DATABASE_URL": os.environ["DATABASE_URL"]},
    )
    offset, rows = 0, []
    try:
        for c in clients:
            results = {"portal": [], "floor": []}
            for _ in range(opts.rounds):
                for name, url, script in (
                    ("portal", "http://127.0.0.1:18311", portal_script),
                    ("floor", "http://127.0.0.1:18312", floor_script),
                ):
                    rps, p99, n = run_wrk(url, script, c, opts.seconds, offset)
                    offset += 2 * n + 4 * c  # a thread may have sent them all (strided), and some in flight
                    assert offset < len(links), "not enough pairs: raise --pairs"
                    results[name].append((rps, p99))
            p_rps, f_rps = (statistics.median(r[0] for r in results[k]) for k in ("portal", "floor"))
            p_p99, f_p99 = (statistics.median(r[1] for r in results[k]) for k in ("portal", "floor"))
            rows.append((c, p_rps, f_rps, p_p99, f_p99))
            print(f"  bind c={c}: portal {p_rps:.0f}/s, floor {f_rps:.0f}/s", file=sys.stderr)
    finally:
        for p in (portal, floor):
            p.terminate()
            p.wait(10)
    limit_held = (
        not Contact.objects.filter(student__school__name=PREFIX)
        .values("student_id")
        .annotate(n=django.db.models.Count("id"))
        .filter(n__gt=10)
        .exists()
    )
    print(
        f"\n### Share-link bind ({opts.rounds} round(s) of {opts.seconds:g} s, medians; "
        f"every student within its limit of 10 afterwards: {limit_held})\n"
    )
    print("| clients | portal binds/s | floor binds/s | ratio (≥ 0.3) | portal p99 ms | floor p99 ms |")
    print("|---|---|---|---|---|---|")
    for c, p_rps, f_rps, p_p99, f_p99 in rows:
        print(f"| {c} | {p_rps:.0f} | {f_rps:.0f} | {p_rps / f_rps:.2f}× | {p_p99:.1f} | {f_p99:.1f} |")
    _cleanup()


if __name__ == "__main__":
    main()
