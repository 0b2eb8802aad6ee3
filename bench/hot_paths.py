"""Benchmark: the portal's hot read paths against a raw-psycopg floor, side by side in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_hot .venv/bin/python bench/hot_paths.py [--quick]

Needs ``wrk`` (Debian: ``apt-get install wrk``) and Redis on 127.0.0.1:6379 (db 9 is used).
It migrates the database it is given and generates a school with 10,000 students with 1–5
confirmed contacts each (scope.voip granted), 200 face-pay devices and a vendor's API client. Then,
for each path — ``getvoipcontactlist``, ``calls/check``, ``call-plan``, ``iot-bind-contacts`` — it
runs 200 different requests (a different student and device each) once in-process, capturing the
SQL the portal runs and its answer. Two servers run under the same gunicorn (2 sync workers):

- the portal (``portal.wsgi``, production settings, ``deploy/gunicorn.conf.py``: persistent
  connections, JSON logs at INFO, Redis cache and throttles);
- the floor (``bench/floor_app.py``): the same captured SQL through raw psycopg on a persistent
  connection, answering the same bytes.

``wrk`` drives each at 1, 16 and 64 connections, interleaved (portal, floor, portal, …), several
rounds of a few seconds; the table gives median requests/s and p99 latency and the ratios.
Targets (issue 11): portal ≥ 0.5× the floor's throughput, p99 ≤ 3× the floor's.
"""

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("WECHAT_SANDBOX", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # this process's captures; the servers log as deployed

import django

django.setup()

import requests
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact, Parent
from schools.models import CallMode, Device, School, Student
from schools.services.api_clients import api_access_token_issue, api_client_create

STUDENTS = 10_000
DEVICES = 200
REQUESTS = 200  # distinct requests per path
REDIS_DB = 9
PREFIX = "bench_hot"


def generate(students: int) -> dict:
    """The school, its students, parents, contacts, devices and an API client; returns the handles."""
    school = School.objects.filter(name=PREFIX).first()
    if school is None or school.students.count() != students or school.devices.count() != DEVICES:
        _cleanup()
        school = School.objects.create(name=PREFIX)
        rng = random.Random(7)
        Student.objects.bulk_create(
            [
                Student(
                    school=school,
                    user_id=f"{PREFIX}_u{i:06d}",
                    name=f"学生{i}",
                    grade="三年级",
                    class_name=f"{i % 12 + 1}班",
                    student_number=f"S{i:06d}",
                )
                for i in range(students)
            ],
            batch_size=5000,
        )
        ids = list(school.students.order_by("pk").values_list("pk", flat=True))
        counts = [rng.randint(1, 5) for _ in ids]
        Parent.objects.bulk_create(
            [Parent(openid=f"{PREFIX}_o{n:07d}", voip_scope_granted=True) for n in range(sum(counts))],
            batch_size=5000,
        )
        parents = iter(
            Parent.objects.filter(openid__startswith=f"{PREFIX}_o").order_by("openid").values_list("pk", flat=True)
        )
        Contact.objects.bulk_create(
            [
                Contact(
                    student_id=sid,
                    parent_id=next(parents),
                    role=1 if n == 0 else 0,
                    relation="妈妈" if n == 0 else "爸爸",
                    bound_via=Contact.BoundVia.STAFF,
                    state=Contact.State.CONFIRMED,
                )
                for sid, count in zip(ids, counts, strict=True)
                for n in range(count)
            ],
            batch_size=5000,
        )
        Device.objects.bulk_create(
            [
                Device(
                    school=school,
                    sn=f"BENCHSN{i:05d}",
                    model_id="bench_model",
                    device_name=f"电话{i}",
                    call_mode=CallMode.FACE_PAY,
                )
                for i in range(DEVICES)
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    client, _secret = api_client_create(name=PREFIX, school_ids=[school.pk])
    token, _ = api_access_token_issue(client=client)
    return {"school": school, "token": token}


def _cleanup() -> None:
    from schools.models import ApiClient

    ApiClient.objects.filter(name=PREFIX).delete()
    school = School.objects.filter(name=PREFIX).first()
    if school is None:
        return
    Parent.objects.filter(openid__startswith=f"{PREFIX}_o").delete()  # contacts cascade
    Device.objects.filter(school=school).delete()
    Student.objects.filter(school=school).delete()
    school.delete()


def requests_for(token: str) -> dict[str, list[dict]]:
    """``REQUESTS`` requests per path: method, path (with query), JSON body, each another student."""
    rng = random.Random(11)
    students = list(
        Student.objects.filter(school__name=PREFIX).order_by("?").values_list("pk", "user_id")[: REQUESTS * 2]
    )
    rng.shuffle(students)
    first_contact = dict(
        Contact.objects.filter(student_id__in=[pk for pk, _ in students], role=1).values_list(
            "student_id", "parent__openid"
        )
    )
    all_openids = {}
    for sid, openid in Contact.objects.filter(student_id__in=[pk for pk, _ in students]).values_list(
        "student_id", "parent__openid"
    ):
        all_openids.setdefault(sid, []).append(openid)
    q = f"access_token={token}"
    out = {"getvoipcontactlist": [], "calls-check": [], "call-plan": [], "iot-bind-contacts": []}
    for k in range(REQUESTS):
        pk, user_id = students[k]
        sn = f"BENCHSN{k % DEVICES:05d}"
        out["getvoipcontactlist"].append(
            {"method": "POST", "path": f"/wxa/business/getvoipcontactlist?{q}", "body": {"user_id": user_id}}
        )
        out["calls-check"].append(
            {
                "method": "POST",
                "path": f"/api/v1/device/calls/check?{q}",
                "body": {"sn": sn, "model_id": "bench_model", "user_id": user_id, "openid": first_contact[pk]},
            }
        )
        out["call-plan"].append(
            {"method": "GET", "path": f"/api/v1/device/students/{user_id}/call-plan?{q}&sn={sn}&model_id=bench_model"}
        )
        out["iot-bind-contacts"].append(
            {
                "method": "POST",
                "path": f"/api/v1/device/iot-bind-contacts?{q}",
                "body": {"sn": sn, "model_id": "bench_model", "user_id": user_id, "openid_list": all_openids[pk]},
            }
        )
    return out


def capture(paths: dict[str, list[dict]]) -> dict:
    """Each request run once in-process: the SQL the portal ran and its answer (the floor's plan)."""
    client = Client(HTTP_HOST="127.0.0.1")
    plan = {}
    for name, reqs in paths.items():
        plan[name] = []
        for r in reqs:
            with CaptureQueriesContext(connection) as ctx:
                if r["method"] == "GET":
                    response = client.get(r["path"])
                else:
                    response = client.post(r["path"], data=r.get("body"), content_type="application/json")
            assert response.status_code == 200, (name, response.status_code, response.content[:300])
            assert response.json().get("errcode", 0) in (0,), (name, response.content[:300])
            plan[name].append({"sql": [q["sql"] for q in ctx.captured_queries], "body": response.content.decode()})
    return plan


def wrk_script(reqs: list[dict], floor_name: str | None) -> str:
    """A wrk Lua script cycling through ``reqs`` (to the floor: ``/<name>/<k>`` with the same body)."""
    lines = ["local reqs = {}"]
    for k, r in enumerate(reqs):
        path = f"/{floor_name}/{k}" if floor_name else r["path"]
        body = json.dumps(r["body"], ensure_ascii=False) if r.get("body") is not None else ""
        lines.append(
            f"reqs[{k + 1}] = wrk.format({json.dumps(r['method'])}, {json.dumps(path)}, "
            f'{{["Content-Type"]="application/json"}}, {json.dumps(body, ensure_ascii=False)})'
        )
    lines += [
        "local i = 0",
        "request = function() i = i % #reqs + 1; return reqs[i] end",
        "done = function(summary, latency, requests)",
        '  io.write(string.format("RESULT %d %d %.3f %d %d\\n", summary.requests, summary.duration,'
        " latency:percentile(99), summary.errors.status, summary.errors.connect + summary.errors.read"
        " + summary.errors.write + summary.errors.timeout))",
        "end",
    ]
    return "\n".join(lines) + "\n"


def run_wrk(url: str, script: Path, clients: int, seconds: float) -> tuple[float, float]:
    """``(requests per second, p99 in ms)``; fails on any non-2xx answer or socket error."""
    threads = min(clients, 2)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"RESULT (\d+) (\d+) ([\d.]+) (\d+) (\d+)", out)
    n, duration_us, p99_us, bad_status, socket_errors = match.groups()
    assert int(bad_status) == 0 and int(socket_errors) == 0, out
    return int(n) / (int(duration_us) / 1e6), float(p99_us) / 1000


def start(args: list[str], env: dict, log: Path, probe: str) -> subprocess.Popen:
    process = subprocess.Popen(args, cwd=BASE, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            requests.get(probe, timeout=1)
            return process
        except requests.RequestException:
            if process.poll() is not None:
                raise RuntimeError(log.read_text()[-2000:]) from None
            time.sleep(0.1)
    raise RuntimeError("did not start")


def start_servers(tmp: Path, port_portal: int, port_floor: int, floor_app: str, portal_extra: dict, floor_extra: dict):
    """The portal (production settings, deploy/gunicorn.conf.py, Redis db ``REDIS_DB``) and a floor
    app of bench/floor_app.py under the same gunicorn with 2 sync workers: ``(portal, floor)``."""
    base_env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DEBUG", "LOG_LEVEL"}}
    portal_env = {
        **base_env,
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "SECRET_KEY": "bench-" + "x" * 50,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "CACHE_URL": f"rediscache://127.0.0.1:6379/{REDIS_DB}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        **portal_extra,
    }
    gunicorn = [sys.executable, "-m", "gunicorn", "--config=deploy/gunicorn.conf.py", "--workers=2"]
    portal = start(
        [*gunicorn, f"--bind=127.0.0.1:{port_portal}", "portal.wsgi:application"],
        portal_env,
        tmp / "portal.log",
        f"http://127.0.0.1:{port_portal}/health/live",
    )
    floor = start(
        [*gunicorn, f"--bind=127.0.0.1:{port_floor}", "--pythonpath=bench", floor_app],
        {**base_env, **floor_extra},
        tmp / "floor.log",
        f"http://127.0.0.1:{port_floor}/",
    )
    return portal, floor


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s per cell (a smoke run)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", default="1,16,64")
    parser.add_argument("--paths", default="getvoipcontactlist,calls-check,call-plan,iot-bind-contacts")
    opts = parser.parse_args()
    if opts.quick:
        opts.rounds, opts.seconds = 1, 2
    clients = [int(c) for c in opts.clients.split(",")]
    database_url = os.environ["DATABASE_URL"]

    call_command("migrate", verbosity=0)
    world = generate(STUDENTS)
    paths = {name: reqs for name, reqs in requests_for(world["token"]).items() if name in opts.paths.split(",")}
    plan = capture(paths)
    tmp = Path(tempfile.mkdtemp(prefix="bench-hot-"))
    (tmp / "plan.json").write_text(json.dumps(plan, ensure_ascii=False))
    connection.close()

    port_portal, port_floor = 18301, 18302
    portal, floor = start_servers(
        tmp,
        port_portal,
        port_floor,
        "floor_app:application",
        {"DEVICE_CHECK_THROTTLE_RATE": "1000000/minute"},
        {"FLOOR_STATEMENTS": str(tmp / "plan.json"), "FLOOR_DATABASE_URL": database_url},
    )
    try:
        rows = []
        for name, reqs in paths.items():
            portal_script, floor_script = tmp / f"{name}.lua", tmp / f"{name}-floor.lua"
            portal_script.write_text(wrk_script(reqs, None))
            floor_script.write_text(wrk_script(reqs, name))
            queries = statistics.median(len(p["sql"]) for p in plan[name])
            for c in clients:
                run_wrk(f"http://127.0.0.1:{port_portal}", portal_script, c, 1)  # warm both
                run_wrk(f"http://127.0.0.1:{port_floor}", floor_script, c, 1)
                results = {"portal": [], "floor": []}
                for _ in range(opts.rounds):
                    results["portal"].append(run_wrk(f"http://127.0.0.1:{port_portal}", portal_script, c, opts.seconds))
                    results["floor"].append(run_wrk(f"http://127.0.0.1:{port_floor}", floor_script, c, opts.seconds))
                p_rps = statistics.median(r[0] for r in results["portal"])
                f_rps = statistics.median(r[0] for r in results["floor"])
                p_p99 = statistics.median(r[1] for r in results["portal"])
                f_p99 = statistics.median(r[1] for r in results["floor"])
                rows.append((name, queries, c, p_rps, f_rps, p_p99, f_p99))
                print(
                    f"  {name} c={c}: portal {p_rps:.0f}/s p99 {p_p99:.1f} ms, floor {f_rps:.0f}/s p99 {f_p99:.1f} ms",
                    file=sys.stderr,
                )
    finally:
        for p in (portal, floor):
            p.terminate()
            p.wait(10)
    print(
        f"\n### Hot read paths ({STUDENTS:,} students, gunicorn 2 sync workers each; "
        f"{opts.rounds} round(s) of {opts.seconds:g} s, medians)\n"
    )
    print(
        "| path | SQL statements | clients | portal req/s | floor req/s | ratio (≥ 0.5) | portal p99 ms | floor p99 ms "
        "| p99 ratio (≤ 3) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, queries, c, p_rps, f_rps, p_p99, f_p99 in rows:
        print(
            f"| {name} | {queries:g} | {c} | {p_rps:.0f} | {f_rps:.0f} | {p_rps / f_rps:.2f}× | {p_p99:.1f} | "
            f"{f_p99:.1f} | {p_p99 / f_p99:.2f}× |"
        )


if __name__ == "__main__":
    main()
