"""``core.prepared``: a QuerySet compiled once answers what the ORM answers, and misuse fails loudly.

Django's own models (auth, contenttypes) stand in for the portal's: core imports no app above it.
"""

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Count, QuerySet
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from core.prepared import prepared

pytestmark = pytest.mark.django_db

builds = []


@prepared
def permissions(*, codenames: list[str]) -> QuerySet:
    builds.append(len(codenames))
    return Permission.objects.filter(codename__in=codenames).select_related("content_type").order_by("codename")


@prepared
def joined_since(*, since: datetime, last_login: datetime | None) -> QuerySet:
    return User.objects.filter(date_joined__gte=since, last_login=last_login).order_by("username")


@prepared
def group_sizes(*, name: str) -> QuerySet:
    return Group.objects.filter(name__gt=name).annotate(members=Count("user")).order_by("name")


@pytest.fixture
def people():
    now = timezone.now()
    users = [
        User.objects.create(username=f"u{i}", date_joined=now - timedelta(days=i), last_login=None if i % 2 else now)
        for i in range(6)
    ]
    for name, members in (("a", users[:3]), ("b", users[3:4]), ("c", [])):
        Group.objects.create(name=name).user_set.set(members)
    return now


def test_model_rows_come_with_their_select_related_objects(django_assert_num_queries):
    codenames = ["add_user", "view_group", "delete_permission"]
    expected = list(permissions.build(codenames=codenames))
    permissions(codenames=codenames)  # compiled
    with django_assert_num_queries(1):
        found = permissions(codenames=codenames)
        labels = [(p.pk, p.codename, p.content_type.app_label, p.content_type.model) for p in found]
    assert labels == [(p.pk, p.codename, p.content_type.app_label, p.content_type.model) for p in expected]
    assert len(found) == 3 and found[0]._state.adding is False


def test_compiled_once_per_connection_and_list_length():
    builds.clear()
    for codenames in (["add_user"], ["view_user"], ["add_user", "view_user"], ["change_user"], []):
        assert [p.codename for p in permissions(codenames=codenames)] == sorted(codenames)
    # two builds (two marker sets) for each new length — 1, 2 and 0 — and none when a length recurs
    assert builds == [1, 1, 2, 2, 0, 0]


def test_an_empty_list_answers_no_rows_without_a_query(django_assert_num_queries):
    permissions(codenames=[])
    with django_assert_num_queries(0):
        assert permissions(codenames=[]) == []


def test_datetime_and_none_arguments(people):
    for since in (people - timedelta(days=2, hours=1), people - timedelta(days=10), people + timedelta(days=1)):
        for last_login in (None, people):
            expected = [u.username for u in joined_since.build(since=since, last_login=last_login)]
            assert [u.username for u in joined_since(since=since, last_login=last_login)] == expected
    assert [u.username for u in joined_since(since=people - timedelta(days=3, hours=1), last_login=None)] == [
        "u1",
        "u3",
    ]


def test_values_with_annotations(people):
    for name in ("", "a", "c"):
        assert group_sizes(name=name) == list(group_sizes.build(name=name))
    assert [(g.name, g.members) for g in group_sizes(name="")] == [("a", 3), ("b", 1), ("c", 0)]

    @prepared
    def sizes(*, name: str) -> QuerySet:
        return Group.objects.filter(name__gt=name).values("name").annotate(members=Count("user")).order_by("name")

    @prepared
    def sizes_list(*, name: str) -> QuerySet:
        return Group.objects.filter(name__gt=name).annotate(members=Count("user")).values_list("members", "name")

    @prepared
    def names(*, name: str) -> QuerySet:
        return Group.objects.filter(name__gt=name).order_by("-name").values_list("name", flat=True)

    assert sizes(name="a") == [{"name": "b", "members": 1}, {"name": "c", "members": 0}]
    assert sorted(sizes_list(name="a")) == sorted(sizes_list.build(name="a")) == [(0, "c"), (1, "b")]
    assert names(name="") == ["c", "b", "a"]


def test_an_argument_that_does_not_reach_the_sql_unchanged_is_refused():
    @prepared
    def by_prefix(*, prefix: str) -> QuerySet:
        return User.objects.filter(username__startswith=prefix)

    @prepared
    def computed(*, username: str) -> QuerySet:
        return User.objects.filter(username=username.lower())

    @prepared
    def shape_by_value(*, pk: int) -> QuerySet:
        return User.objects.filter(pk=pk) if pk % 2 else User.objects.filter(pk__gt=pk)

    for query, kwargs in ((by_prefix, {"prefix": "u"}), (computed, {"username": "U1"}), (shape_by_value, {"pk": 1})):
        with pytest.raises(ImproperlyConfigured):
            query(**kwargs)


def test_unsupported_builders_are_refused():
    @prepared
    def prefetching(*, name: str) -> QuerySet:
        return Group.objects.filter(name=name).prefetch_related("user_set")

    @prepared
    def nothing(*, name: str) -> QuerySet:
        return Group.objects.none().filter(name=name)

    with pytest.raises(ImproperlyConfigured, match="prefetch"):
        prefetching(name="a")
    with pytest.raises(ImproperlyConfigured, match="no rows whatever"):
        nothing(name="a")
    with pytest.raises(ImproperlyConfigured, match="str, int, datetime"):

        @prepared
        def by_flag(*, flag: bool) -> QuerySet:
            return User.objects.filter(is_staff=flag)


@prepared
def locked_groups(*, name: str) -> QuerySet:
    return Group.objects.select_for_update().filter(name=name)


@pytest.mark.django_db(transaction=True)
def test_a_locking_query_refuses_to_run_outside_a_transaction_every_time():
    Group.objects.create(name="teachers")
    with transaction.atomic():
        assert [g.name for g in locked_groups(name="teachers")] == ["teachers"]  # compiled here
    if connection.features.has_select_for_update:
        for _ in range(2):  # not only when compiling, as Django's own check would be
            with pytest.raises(TransactionManagementError):
                locked_groups(name="teachers")
    else:
        assert [g.name for g in locked_groups(name="teachers")] == ["teachers"]  # as Django: no lock
