"""``core.batching.update_in_batches``: every row once, in short transactions, locked rows skipped.

Each test runs both ways a batch is written: one statement (PostgreSQL) and a ``SELECT`` then an
``UPDATE`` (other databases; on PostgreSQL too when forced).
"""

import threading
import time

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core import batching
from core.batching import update_in_batches


@pytest.fixture(params=[pytest.param("one statement", marks=pytest.mark.postgres), "two statements"])
def way(request, monkeypatch):
    if request.param == "two statements":
        monkeypatch.setattr(batching, "_one_statement", lambda vendor: False)
    return request.param


def users(n: int, *, tied_every: int = 3) -> list[int]:
    """``n`` active users whose last names repeat (ties in the first key); their ids in order."""
    User.objects.bulk_create(User(username=f"u{i:05d}", last_name=f"n{i // tied_every:05d}") for i in range(n))
    return list(User.objects.order_by("pk").values_list("pk", flat=True))


def deactivate(**kwargs) -> int:
    return update_in_batches(User.objects.filter(is_active=True), is_active=False, **kwargs)


def batches(queries) -> int:
    """Batches run: one statement each, or one SELECT of the rows each."""
    return sum(
        q["sql"].startswith("WITH") or (q["sql"].startswith("SELECT") and "auth_user" in q["sql"]) for q in queries
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rows", "batch_size", "expected"),
    [(0, 4, 1), (1, 4, 1), (3, 4, 1), (4, 4, 2), (5, 4, 2), (8, 4, 3), (9, 4, 3), (10, 1, 11)],
)
def test_every_row_once_in_batches_until_one_comes_up_short(way, rows, batch_size, expected):
    users(rows)
    User.objects.create(username="inactive", is_active=False, last_name="n00000")

    with CaptureQueriesContext(connection) as queries:
        updated = deactivate(keys=("last_name", "pk"), batch_size=batch_size)

    assert updated == rows
    assert not User.objects.filter(is_active=True).exists()
    assert User.objects.filter(is_active=False).count() == rows + 1
    assert batches(queries) == expected  # a full batch asks once more; a short one ends the run


@pytest.mark.django_db
@pytest.mark.parametrize("batch_size", [1, 2, 3, 4, 7])
def test_ties_in_the_first_key_split_across_batches_lose_and_repeat_nothing(way, batch_size):
    users(20, tied_every=5)  # 4 names, 5 users each: batches cut through the ties
    # The change keeps every row in the queryset: only the keys move the batches on.
    with CaptureQueriesContext(connection) as queries:
        updated = update_in_batches(User.objects.all(), keys=("last_name", "pk"), batch_size=batch_size, first_name="x")

    assert updated == 20 == User.objects.filter(first_name="x").count()
    assert batches(queries) == 20 // batch_size + 1


@pytest.mark.django_db
def test_batches_follow_the_keys_order(way):
    users(6, tied_every=2)
    User.objects.filter(username__in=["u00000", "u00001"]).update(last_name="z")  # last in key order
    done, seen, looking = [], set(), False

    def after_each_batch(execute, sql, params, many, context):
        nonlocal looking
        result = execute(sql, params, many, context)
        if not looking and sql.startswith(("WITH", "UPDATE")):
            looking = True
            now = set(User.objects.filter(is_active=False).values_list("username", flat=True))
            looking = False
            done.append(sorted(now - seen))
            seen.update(now)
        return result

    with connection.execute_wrapper(after_each_batch):
        deactivate(keys=("last_name", "pk"), batch_size=2)

    assert [batch for batch in done if batch] == [["u00002", "u00003"], ["u00004", "u00005"], ["u00000", "u00001"]]


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        update_in_batches(User.objects.none(), keys=("pk",), batch_size=0, is_active=False)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_row_locked_elsewhere_is_skipped_without_waiting_and_a_later_run_takes_it(way):
    ids = users(10)
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                User.objects.select_for_update().get(pk=ids[4])
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        started = time.monotonic()
        updated = deactivate(keys=("pk",), batch_size=3)
        elapsed = time.monotonic() - started
        assert holder.is_alive()  # it finished while the lock was still held
    finally:
        release.set()
        holder.join(timeout=30)

    assert updated == 9 and elapsed < 5
    assert list(User.objects.filter(is_active=True).values_list("pk", flat=True)) == [ids[4]]
    assert deactivate(keys=("pk",), batch_size=3) == 1
    assert not User.objects.filter(is_active=True).exists()


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_without_synchronous_commit_the_batches_commit_asynchronously_and_the_connection_is_reset(way):
    users(5)
    seen = []

    def note(execute, sql, params, many, context):
        if sql.startswith(("WITH", "UPDATE")):
            seen.append(synchronous_commit())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        assert deactivate(keys=("pk",), batch_size=2, synchronous_commit=False) == 5
        assert seen == ["off"] * 3
        assert synchronous_commit() == "on"
        User.objects.update(is_active=True)
        seen.clear()

        assert deactivate(keys=("pk",), batch_size=2) == 5  # by default, as the server says
        assert seen == ["on"] * 3
