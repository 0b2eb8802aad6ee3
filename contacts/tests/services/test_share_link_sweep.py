"""The share-link expiry sweep (``share_links_expire``): short batches, nothing waits long behind it."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.models import BindEvent, Contact, ShareLink
from contacts.services.binding import share_link_bind
from contacts.services.contacts import admin_transfer
from contacts.services.share_links import share_link_create, share_links_expire
from contacts.tests.factories import ContactFactory, ParentFactory
from schools.tests.factories import StudentFactory


@pytest.fixture
def admin():
    return ContactFactory(student=StudentFactory(), role=Contact.Role.ADMIN)


def links(admin, n: int, *, expired: bool = True, at=None, start: int = 0) -> list[ShareLink]:
    """``n`` active links of ``admin``'s student, past expiry (a day ago, one second apart from ``start``)
    or fresh; all at ``at`` if given. Returned in sweep order."""
    now = timezone.now()
    rows = []
    for i in range(start, start + n):
        expires_at = at or (now - timedelta(days=1) + timedelta(seconds=i) if expired else now + timedelta(days=1))
        rows.append(
            ShareLink(
                student=admin.student,
                issued_by=admin.parent,
                token_hash=f"{admin.pk}-{i}-{expired}".ljust(64, "0"),
                created_at=expires_at - timedelta(days=1),
                expires_at=expires_at,
            )
        )
    return ShareLink.objects.bulk_create(rows)


def states(rows) -> set[str]:
    return set(ShareLink.objects.filter(pk__in=[r.pk for r in rows]).values_list("state", flat=True))


def batches_read(queries) -> int:
    """Batches run: one statement each (PostgreSQL), or one SELECT of the links each."""
    return sum(
        q["sql"].startswith("WITH") or (q["sql"].startswith("SELECT") and "contacts_sharelink" in q["sql"])
        for q in queries
    )


@pytest.mark.django_db
class TestBatches:
    @pytest.mark.parametrize(("expired", "batches"), [(0, 1), (4, 1), (5, 2), (6, 2), (10, 3), (11, 3)])
    def test_batch_boundaries(self, admin, settings, expired, batches):
        settings.SHARE_LINK_EXPIRY_BATCH = 5
        old = links(admin, expired)
        fresh = links(admin, 3, expired=False)
        revoked = links(admin, 2, start=100)
        ShareLink.objects.filter(pk__in=[r.pk for r in revoked]).update(state=ShareLink.State.REVOKED)

        with CaptureQueriesContext(connection) as queries:
            assert share_links_expire() == expired

        assert batches_read(queries) == batches  # a full batch reads once more; a short one ends the run
        assert states(old) <= {"expired"} and states(fresh) == {"active"} and states(revoked) == {"revoked"}
        assert share_links_expire() == 0

    def test_links_expiring_at_the_same_moment_are_split_across_batches_each_once(self, admin):
        same = links(admin, 11, at=timezone.now() - timedelta(minutes=1))

        assert share_links_expire(batch_size=4) == 11
        assert states(same) == {"expired"}

    def test_only_links_past_the_given_now(self, admin):
        old = links(admin, 3)  # a day ago, one second apart

        assert share_links_expire(now=timezone.now() - timedelta(days=2)) == 0
        assert states(old) == {"active"}
        assert share_links_expire(now=old[1].expires_at, batch_size=2) == 2  # "past" includes the moment itself
        assert states(old[2:]) == {"active"}


class SlowSweep:
    """``share_links_expire`` in a thread with its own connection, whose batch ``k`` (from 1) keeps its
    locks ``hold(k)`` seconds after writing (its statement runs in a transaction kept open that long,
    as if the write were slow); ``holding[k]`` is set meanwhile."""

    def __init__(self, *, batch_size: int, hold):
        self.batch_size, self.hold = batch_size, hold
        self.holding = [threading.Event() for _ in range(1000)]
        self.done = threading.Event()
        self.result = None
        self.thread = threading.Thread(target=self._run)

    def _run(self):
        batch = 0

        def slow(execute, sql, params, many, context):
            nonlocal batch
            if not sql.startswith("WITH"):  # a batch is one statement on PostgreSQL
                return execute(sql, params, many, context)
            with transaction.atomic():
                result = execute(sql, params, many, context)
                batch += 1
                self.holding[batch].set()
                time.sleep(self.hold(batch))
            return result

        try:
            with connection.execute_wrapper(slow):
                self.result = share_links_expire(batch_size=self.batch_size)
        except Exception as exc:  # noqa: BLE001 — asserted by the test
            self.result = exc
        finally:
            self.done.set()
            connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.thread.join(timeout=60)


def hold_lock(pk: int, locked: threading.Event, release: threading.Event):
    """In a thread: ``SELECT … FOR UPDATE`` link ``pk`` (what a revocation takes) until ``release``."""
    try:
        with transaction.atomic():
            ShareLink.objects.select_for_update().get(pk=pk)
            locked.set()
            release.wait(timeout=30)
    finally:
        connection.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestUnderConcurrency:
    def test_a_link_locked_elsewhere_is_skipped_without_waiting_and_expired_by_the_next_run(self, admin):
        old = links(admin, 10)
        locked, release = threading.Event(), threading.Event()
        holder = threading.Thread(target=hold_lock, args=(old[4].pk, locked, release))
        holder.start()
        try:
            assert locked.wait(timeout=10)
            started = time.monotonic()
            expired = share_links_expire(batch_size=3)
            elapsed = time.monotonic() - started
            assert holder.is_alive()  # finished while the lock was still held
        finally:
            release.set()
            holder.join(timeout=30)

        assert expired == 9 and elapsed < 5
        assert ShareLink.objects.get(pk=old[4].pk).state == "active"
        assert share_links_expire(batch_size=3) == 1
        assert states(old) == {"expired"}

    def test_every_expired_link_ends_expired_over_repeated_runs_while_others_hold_some(self, admin):
        old = links(admin, 40)
        fresh = links(admin, 5, expired=False)
        held = [old[0], old[13], old[14], old[39]]  # the first, two together, the last
        release = threading.Event()
        holders = []
        for link in held:
            locked = threading.Event()
            holders.append(threading.Thread(target=hold_lock, args=(link.pk, locked, release)))
            holders[-1].start()
            assert locked.wait(timeout=10)
        try:
            first = share_links_expire(batch_size=7)
            second = share_links_expire(batch_size=7)  # still held: nothing more, no waiting
        finally:
            release.set()
            for thread in holders:
                thread.join(timeout=30)
        third = share_links_expire(batch_size=7)

        assert (first, second, third) == (36, 0, 4)
        assert states(old) == {"expired"} and states(fresh) == {"active"}

    def test_an_admin_transfer_during_a_long_sweep_waits_for_one_batch_not_the_whole_sweep(self, settings):
        settings.WECHAT_SANDBOX = True  # the transfer happens at once and revokes the old admin's links
        other = ContactFactory(student=StudentFactory(), role=Contact.Role.ADMIN)
        before = links(other, 20)  # batches 1-2
        admin = ContactFactory(student=StudentFactory(), role=Contact.Role.ADMIN)
        theirs = links(admin, 5, start=20)  # batch 3
        new_admin = ContactFactory(student=admin.student)
        after = links(other, 200, start=30)  # batches 3-23

        # Batch 3 holds its locks for 0.5 s, every other batch for 0.1 s: the sweep takes over 2.5 s.
        with SlowSweep(batch_size=10, hold=lambda k: 0.5 if k == 3 else 0.1) as sweep:
            assert sweep.holding[3].wait(timeout=30)
            started = time.monotonic()
            admin_transfer(parent=admin.parent, user_id=admin.student.user_id, new_admin_openid=new_admin.parent.openid)
            took = time.monotonic() - started
            sweep_running = not sweep.done.is_set()

        assert sweep_running, "the transfer waited for the whole sweep"
        assert took < 1.5, took
        assert sweep.result == 225
        assert Contact.objects.get(student=admin.student, role=Contact.Role.ADMIN).pk == new_admin.pk
        # The transfer's revocation waited for batch 3, which had expired its links meanwhile.
        assert states(theirs) == {"expired"} and states(before + after) == {"expired"}

    def test_a_bind_through_a_link_being_swept_does_not_wait_for_its_batch(self, admin):
        link, token = share_link_create(parent=admin.parent, user_id=admin.student.user_id)
        ShareLink.objects.filter(pk=link.pk).update(
            created_at=timezone.now() - timedelta(days=2), expires_at=timezone.now() - timedelta(days=1)
        )

        # The batch holds the link (FOR NO KEY UPDATE) for 3 s; the refusal's BindEvent references it.
        with SlowSweep(batch_size=10, hold=lambda k: 3) as sweep:
            assert sweep.holding[1].wait(timeout=30)
            started = time.monotonic()
            decision = share_link_bind(parent=ParentFactory(), token=token)
            took = time.monotonic() - started
            sweep_running = not sweep.done.is_set()

        assert decision.type == "expire"
        assert sweep_running and took < 1.5, took
        assert BindEvent.objects.filter(share_link=link, type="expire").count() == 1
        assert sweep.result == 1
