"""``core.batching.update_in_batches``: every row once, in short transactions, locked rows skipped."""

import threading
import time

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.batching import update_in_batches


def users(n: int, *, tied_every: int = 3) -> list[int]:
    """``n`` active users whose last names repeat (ties in the first key); their ids in order."""
    User.objects.bulk_create(User(username=f"u{i:05d}", last_name=f"n{i // tied_every:05d}") for i in range(n))
    return list(User.objects.order_by("pk").values_list("pk", flat=True))


def deactivate(**kwargs) -> int:
    return update_in_batches(User.objects.filter(is_active=True), is_active=False, **kwargs)


def selects(queries) -> int:
    return sum(q["sql"].startswith("SELECT") and "auth_user" in q["sql"] for q in queries)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rows", "batch_size", "batches"),
    [(0, 4, 1), (1, 4, 1), (3, 4, 1), (4, 4, 2), (5, 4, 2), (8, 4, 3), (9, 4, 3), (10, 1, 11)],
)
def test_every_row_once_in_batches_until_one_comes_up_short(rows, batch_size, batches):
    users(rows)
    User.objects.create(username="inactive", is_active=False, last_name="n00000")

    with CaptureQueriesContext(connection) as queries:
        updated = deactivate(keys=("last_name", "pk"), batch_size=batch_size)

    assert updated == rows
    assert not User.objects.filter(is_active=True).exists()
    assert selects(queries) == batches  # a full batch asks once more; a short one ends the run


@pytest.mark.django_db
@pytest.mark.parametrize("batch_size", [1, 2, 3, 4, 7])
def test_ties_in_the_first_key_split_across_batches_lose_and_repeat_nothing(batch_size):
    users(20, tied_every=5)  # 4 names, 5 users each: batches cut through the ties
    # The change keeps every row in the queryset: only the keys move the batches on.
    with CaptureQueriesContext(connection) as queries:
        updated = update_in_batches(User.objects.all(), keys=("last_name", "pk"), batch_size=batch_size, first_name="x")

    assert updated == 20 == User.objects.filter(first_name="x").count()
    assert sum(q["sql"].startswith("UPDATE") for q in queries) == -(-20 // batch_size)


@pytest.mark.django_db
def test_the_order_is_the_keys_order():
    users(6, tied_every=2)
    User.objects.filter(username__in=["u00000", "u00001"]).update(last_name="z")  # last in key order
    order = []

    def spy(execute, sql, params, many, context):
        if sql.startswith("UPDATE"):
            order.append(sorted(User.objects.filter(pk__in=params[1:]).values_list("username", flat=True)))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        deactivate(keys=("last_name", "pk"), batch_size=2)

    assert order == [["u00002", "u00003"], ["u00004", "u00005"], ["u00000", "u00001"]]


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        update_in_batches(User.objects.none(), keys=("pk",), batch_size=0, is_active=False)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_row_locked_elsewhere_is_skipped_without_waiting_and_a_later_run_takes_it():
    ids = users(10)
    locked, release, released = threading.Event(), threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                User.objects.select_for_update().get(pk=ids[4])
                locked.set()
                release.wait(timeout=30)
            released.set()
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        started = time.monotonic()
        updated = deactivate(keys=("pk",), batch_size=3)
        elapsed = time.monotonic() - started
        assert not released.is_set()  # it finished while the lock was still held
    finally:
        release.set()
        holder.join(timeout=30)

    assert updated == 9 and elapsed < 5
    assert list(User.objects.filter(is_active=True).values_list("pk", flat=True)) == [ids[4]]
    assert deactivate(keys=("pk",), batch_size=3) == 1
    assert not User.objects.filter(is_active=True).exists()
