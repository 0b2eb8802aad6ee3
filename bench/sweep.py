"""Benchmark: the share-link expiry sweep over 1,000,000 links (500,000 past expiry): one raw
``UPDATE`` against the batched ``share_links_expire``, side by side in one run, each with a
concurrent revocation measuring how long it waits behind the sweep.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_sweep .venv/bin/python bench/sweep.py \\
        [--quick] [--links 1000000] [--rounds 3] [--batch-sizes 500,1000] [--layout random|time]

It migrates the database it is given (PostgreSQL only: row locks are the point) and generates,
with ``INSERT … SELECT generate_series`` (no ORM), a school of ``links / 10`` students, each with
an admin parent, and ``links`` share links of random students, half of them past expiry, in one
of two layouts (``--layout``): ``random`` (the default, the sweep's worst case), every other link
past expiry (up to 30 days ago), so that expiry order jumps all over the table, or ``time``, links
created one after another, each living 24 hours, so that expiry order is insertion order. Then,
``--rounds`` times, interleaved (the order alternates each round), from the same state each time
(the expired links set active again, ``VACUUM ANALYZE``, ``CHECKPOINT``):

- raw UPDATE: ``UPDATE contacts_sharelink SET state = 'expired' WHERE state = 'active' AND
  expires_at < now()``, one statement;
- batched (N): ``share_links_expire(batch_size=N)`` for each of ``--batch-sizes`` (default: the
  setting ``SHARE_LINK_EXPIRY_BATCH``).

While each runs, a probe thread (its own connection) does, over and over, what a revocation does:
alternately an admin transfer's (lock the student row, revoke the old admin's active links:
``student_lock`` + ``share_links_revoke``) and a single link's (``UPDATE`` one link), each in its
own transaction rolled back afterwards, aimed alternately at the next link the sweep will reach
(the worst case: it is in the batch being written) and at a random student's past-expiry link. It
records how long each took, waiting included; for comparison, the same probe runs for 1 s before
each sweep starts. Links the batched sweep skipped because the probe held them are expired by an
untimed second run, as the next beat run would. It prints the query plan of a batch (it must use
``share_link_expiry_batch_idx``) and a Markdown table of medians, then deletes everything it
created.
"""

import argparse
import contextlib
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")  # a developer's machine
os.environ.setdefault("DEBUG", "0")  # timings without DEBUG's query log
os.environ.setdefault("WECHAT_SANDBOX", "0")

import django

django.setup()

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from contacts.locks import student_lock
from contacts.models import ShareLink
from contacts.services.share_links import share_links_expire, share_links_revoke
from schools.models import School

RAW_UPDATE = "UPDATE contacts_sharelink SET state = 'expired' WHERE state = 'active' AND expires_at < now()"
PLUGIN_PATH = "plugin-private://wx52dfa33c4a8a8d8f/pages/bind/index?ticket="


class Rollback(Exception):
    """Raised to undo a probe's revocation, so that every round starts from the same links."""


class Probe(threading.Thread):
    """Revocations while the sweep runs; ``waits``: seconds each took (lock waits included)."""

    def __init__(self, *, now, student_ids: tuple[int, int], seed: int):
        super().__init__()
        self.now, self.student_ids, self.rng = now, student_ids, random.Random(seed)
        self.stop = threading.Event()
        self.waits: list[float] = []

    def target(self, i: int):
        """(link id, student id, issuer id): the sweep's next link twice in four steps, else a past-expiry
        link of a random student (the next link if that student has none); None when none is left."""
        pending = ShareLink.objects.past_expiry(self.now).values_list("pk", "student_id", "issued_by_id")
        if i % 4 >= 2:
            found = pending.filter(student_id=self.rng.randint(*self.student_ids)).order_by("pk").first()
            if found:
                return found
        return pending.order_by("expires_at", "pk").first()

    def run(self):
        try:
            i = 0
            while not self.stop.is_set():
                target = self.target(i)
                if target is None:
                    break
                link_id, student_id, issuer_id = target
                started = time.perf_counter()
                try:
                    with transaction.atomic():
                        if i % 2 == 0:  # an admin transfer: the student's lock, then the old admin's links
                            student_lock(student_id=student_id)
                            share_links_revoke(student_ids=[student_id], issued_by_id=issuer_id)
                        else:  # one link revoked
                            ShareLink.objects.filter(pk=link_id).update(state=ShareLink.State.REVOKED)
                        raise Rollback
                except Rollback:
                    pass
                self.waits.append(time.perf_counter() - started)
                i += 1
                time.sleep(0.05)
        finally:
            connection.close()


def sql(statement: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


# When link j of n expires (SQL), in one of two layouts; none expires while the benchmark runs.
EXPIRY = {
    # Created one after another, each living 24 hours (the default TTL): the first half expired over
    # the last day, the second half expires within the next one. Expiry order = insertion order.
    "time": "CASE WHEN j < %(n)s / 2 THEN now() - interval '25 hours' + j * interval '24 hours' / (%(n)s / 2) "
    "ELSE now() + interval '1 hour' + (j - %(n)s / 2) * interval '23 hours' / (%(n)s / 2) END",
    # Every other link past expiry (up to 30 days ago), the rest expiring in 1 to 31 days: the
    # sweep's order jumps all over the table.
    "random": "CASE WHEN j %% 2 = 0 THEN now() - interval '1 minute' - random() * interval '30 days' "
    "ELSE now() + interval '1 day' + random() * interval '30 days' END",
}


def generate(school: School, links: int, stamp: str, layout: str) -> dict:
    """Students, their admin parents and share links by ``INSERT … SELECT``; the id ranges created."""
    students = max(links // 10, 1)
    sql("SELECT setseed(0.42)")
    sql(
        """INSERT INTO schools_student (user_id, name, grade, class_name, student_number, avatar_url,
                                        is_active, created_at, updated_at, school_id)
           SELECT 'wxfp_sw' || %s || '_' || i, '学生' || i, (i %% 6 + 1) || '年级', (i %% 6 + 1) || '年级'
                  || (i %% 10 + 1) || '班', 'S' || i, '', true, now(), now(), %s
           FROM generate_series(0, %s - 1) i""",
        [stamp, school.pk, students],
    )
    sql(
        """INSERT INTO contacts_parent (openid, unionid, nickname, voip_scope_granted, created_at)
           SELECT 'oSweep' || %s || '_' || i, '', '家长' || i, true, now() FROM generate_series(0, %s - 1) i""",
        [stamp, students],
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM schools_student WHERE school_id = %s", [school.pk])
        first_student, last_student = cursor.fetchone()
        cursor.execute("SELECT min(id), max(id) FROM contacts_parent WHERE openid LIKE %s", [f"oSweep{stamp}_%"])
        first_parent, last_parent = cursor.fetchone()
    assert last_student - first_student + 1 == students == last_parent - first_parent + 1, "ids not contiguous"
    sql(
        """INSERT INTO contacts_sharelink (token_hash, user_name, user_avatar, plugin_path, state, created_at,
                                           expires_at, issued_by_id, student_id)
           SELECT encode(sha256(('sweep-' || %(stamp)s || '-' || j)::bytea), 'hex'), '学生' || s, '',
                  %(path)s || md5(j::text), 'active', e - interval '24 hours', e, %(parent)s + s, %(student)s + s
           FROM (SELECT j, floor(random() * %(students)s)::bigint AS s,
                        """
        + EXPIRY[layout]
        + """ AS e
                 FROM generate_series(0, %(n)s - 1) j) g""",
        {
            "stamp": stamp,
            "path": PLUGIN_PATH,
            "parent": first_parent,
            "student": first_student,
            "students": students,
            "n": links,
        },  # fmt: skip
    )
    return {
        "students": (first_student, last_student),
        "parents": (first_parent, last_parent),
    }


def reset():
    """Every expired link active again, the table vacuumed and a checkpoint: each run starts alike."""
    sql("UPDATE contacts_sharelink SET state = 'active' WHERE state = 'expired'")
    sql("VACUUM ANALYZE contacts_sharelink")
    sql("CHECKPOINT")


class BatchQueries:
    """Records the first two batch statements a sweep runs (the first batch, and one after a keyset)."""

    def __init__(self):
        self.seen: list[tuple[str, tuple]] = []

    def __call__(self, execute, statement, params, many, context):
        if len(self.seen) < 2 and statement.startswith("WITH") and "SKIP LOCKED" in statement:
            self.seen.append((statement, params))
        return execute(statement, params, many, context)


def explain(statement: str, params) -> list[str]:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of a batch statement, in a transaction rolled back (it writes)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, params)
            lines = [row[0] for row in cursor.fetchall()]
            raise Rollback
    except Rollback:
        return lines


def run(contender: str, *, expired: int, student_ids, seed: int, record: BatchQueries | None) -> dict:
    now = timezone.now()
    alone = Probe(now=now, student_ids=student_ids, seed=seed)  # the same revocations, nothing else running
    alone.start()
    time.sleep(1)
    alone.stop.set()
    alone.join()
    probe = Probe(now=now, student_ids=student_ids, seed=seed)
    probe.start()
    time.sleep(0.2)  # the probe is going before the sweep starts
    started = time.perf_counter()
    if contender == "raw":
        count = sql(RAW_UPDATE)
    else:
        with connection.execute_wrapper(record) if record else contextlib.nullcontext():
            count = share_links_expire(batch_size=int(contender), now=now)
    seconds = time.perf_counter() - started
    probe.stop.set()
    probe.join()
    left = expired - count
    if left:  # skipped because the probe held them: the next beat run takes them
        assert share_links_expire(now=now) == left
    assert not ShareLink.objects.past_expiry(now).exists()
    assert ShareLink.objects.filter(state=ShareLink.State.EXPIRED).count() == expired
    return {"seconds": seconds, "left": left, "waits": probe.waits, "alone": alone.waits}


def duration(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 links (2 rounds unless --rounds): a smoke run")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--batch-sizes", default=str(settings.SHARE_LINK_EXPIRY_BATCH))
    parser.add_argument(
        "--layout", choices=sorted(EXPIRY), default="random", help="expiry order: insertion order, or unrelated to it"
    )
    args = parser.parse_args()
    links = 100_000 if args.quick else args.links
    rounds = args.rounds or (2 if args.quick else 3)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    assert connection.vendor == "postgresql", "the sweep's locks need PostgreSQL"

    call_command("migrate", verbosity=0)
    assert not ShareLink.objects.exists(), "use a database of the benchmark's own: it sweeps every link"
    stamp = time.strftime("%H%M%S")
    school = School.objects.create(name=f"bench sweep {stamp}", code=f"bench-sweep-{stamp}")
    ids = None
    try:
        started = time.perf_counter()
        ids = generate(school, links, stamp, args.layout)
        generated = time.perf_counter() - started
        expired = ShareLink.objects.past_expiry().count()
        print(f"generated {links:,} links ({expired:,} past expiry, expiry order {args.layout!r}) "
              f"for {links // 10:,} students in {generated:.1f} s")  # fmt: skip

        contenders = ["raw", *map(str, batch_sizes)]
        results = {c: [] for c in contenders}
        record = BatchQueries()
        for r in range(rounds):
            order = contenders if r % 2 == 0 else contenders[::-1]
            for c in order:
                reset()
                result = run(
                    c, expired=expired, student_ids=ids["students"], seed=r, record=None if c == "raw" else record
                )
                results[c].append(result)
                waits = result["waits"]
                print(f"round {r + 1} {c:>5}: {result['seconds']:.2f} s, longest revocation "
                      f"{duration(max(waits, default=0))} of {len(waits)}, {result['left']} left")  # fmt: skip
        reset()
        plans = [explain(statement, params) for statement, params in record.seen]
    finally:
        if ids:
            sql("DELETE FROM contacts_sharelink WHERE student_id BETWEEN %s AND %s", ids["students"])
            sql("DELETE FROM schools_student WHERE id BETWEEN %s AND %s", ids["students"])
            sql("DELETE FROM contacts_parent WHERE id BETWEEN %s AND %s", ids["parents"])
        school.delete()

    assert len(plans) == 2, "no batch statement recorded"
    for title, plan in zip(("first batch", "a later batch"), plans, strict=True):
        print(f"\nquery plan, {title} ({links:,} links):")
        print("\n".join("    " + line for line in plan))
        assert any("share_link_expiry_batch_idx" in line for line in plan), "the batch query does not use the index"

    raw = statistics.median(r["seconds"] for r in results["raw"])
    server = f"PostgreSQL {connection.pg_version // 10000}"
    print(f"\n{links:,} share links, {expired:,} past expiry (layout {args.layout!r}), {links // 10:,} students; "
          f"{server}; median of {rounds} rounds, interleaved; a concurrent revocation probe in each run\n")  # fmt: skip
    alone = [w for c in contenders for r in results[c] for w in r["alone"]]
    print(f"a revocation with no sweep running: median {duration(statistics.median(alone))}, "
          f"longest {duration(max(alone))} ({len(alone)} in 1 s before each run)\n")  # fmt: skip
    print("| sweep | total time | ratio to raw UPDATE | longest revocation (worst round) "
          "| median of each round's longest | revocation, median | revocations over 100 ms "
          "| links left to the next run |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for c in contenders:
        runs = results[c]
        seconds = statistics.median(r["seconds"] for r in runs)
        longest = [max(r["waits"], default=0) for r in runs]
        slow = sum(sum(w > 0.1 for w in r["waits"]) for r in runs)
        total = sum(len(r["waits"]) for r in runs)
        label = "one raw UPDATE" if c == "raw" else f"`share_links_expire`, batches of {int(c):,}"
        print(f"| {label} | {seconds:.2f} s | {seconds / raw:.2f}× | {duration(max(longest))} | "
              f"{duration(statistics.median(longest))} | "
              f"{duration(statistics.median(w for r in runs for w in r['waits']))} | {slow} of {total} | "
              f"{max(r['left'] for r in runs)} |")  # fmt: skip


if __name__ == "__main__":
    main()
