"""The student changelist at a million students (issue 11; ``bench/changelist.py`` times it): its
order is an index scan with no join, its grade and class filters offer the school's vocabulary
without a ``DISTINCT`` over the students, its search is served by trigram indexes on PostgreSQL,
and an unfiltered large list shows an estimated count instead of counting."""

import re

import factory
import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.admin import EstimatedCountPaginator
from schools.admin.scoping import SchoolScopedRelatedFilter
from schools.models import Student
from schools.selectors import class_vocabulary
from schools.tenancy import ALL_SCHOOLS, NO_SCHOOL
from schools.tests.factories import SchoolFactory, StaffMembershipFactory, StudentFactory

pytestmark = pytest.mark.django_db

URL = reverse("admin:schools_student_changelist")
ORDER_BY = re.compile(r"ORDER BY (.*?)(?: LIMIT \d+| OFFSET \d+|$)")


@pytest.fixture
def root(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def staff_of(client, school):
    membership = StaffMembershipFactory(school=school)
    membership.user.user_permissions.set(Permission.objects.filter(codename__in=["view_student", "change_student"]))
    client.force_login(membership.user)
    return client


def student_queries(client, query=""):
    """The response and the SQL of every query on schools_student that the changelist ran."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL + query)
    assert response.status_code == 200
    return response, [q["sql"] for q in captured.captured_queries if "schools_student" in q["sql"]]


def page_query(sqls) -> str:
    """The query that reads the page's rows."""
    (sql,) = [sql for sql in sqls if sql.startswith('SELECT "schools_student"."id"')]
    return sql


def choices(response, parameter) -> list[str]:
    """The choices (display texts, "All" left out) of the list filter named by its parameter."""
    (spec,) = [spec for spec in response.context["cl"].filter_specs if parameter in spec.expected_parameters()]
    return [choice["display"] for choice in spec.choices(response.context["cl"])][1:]


@pytest.fixture
def schools():
    """School A (primary, grades in an order the alphabet gets wrong) and school B (a middle school)."""
    a, b = SchoolFactory(name="甲小学"), SchoolFactory(name="乙中学")
    for n, (grade, class_no) in enumerate(
        [("十年级", 1), ("二年级", 10), ("一年级", 2), ("二年级", 2), ("一年级", 10)]
    ):
        StudentFactory(school=a, grade=grade, class_name=f"{grade}{class_no}班", student_number=f"A{n}")
    StudentFactory(school=a, grade="", class_name="", student_number="A-none")
    for n in range(3):
        StudentFactory(school=b, grade="七年级", class_name=f"七年级{n + 1}班", student_number=f"B{n}")
    return a, b


@pytest.mark.parametrize("query", ["", "?q=王", "?grade=一年级", "?class_name=一年级2班"])
def test_the_changelist_orders_by_the_student_index_and_never_joins_schools_nor_runs_distinct(root, schools, query):
    response, sqls = student_queries(root, query)
    assert response.context["cl"].result_count >= 0
    assert not [sql for sql in sqls if "JOIN" in sql], sqls  # no join: not for the order, not for the school column
    distinct = [sql for sql in sqls if "DISTINCT" in sql]  # the filters' choices are the vocabulary's, once:
    if connection.vendor == "postgresql":
        assert distinct == [], distinct  # a loose index scan
    else:
        (vocabulary,) = distinct  # SQLite (make run) reads its few rows
        assert vocabulary.startswith('SELECT DISTINCT "schools_student"."grade" AS "grade", "schools_student"."class')
    order = ORDER_BY.search(page_query(sqls)).group(1)
    columns = ["school_id", "grade", "class_name", "student_number", "id"]
    assert order == ", ".join(f'"schools_student"."{column}" ASC' for column in columns)
    assert Student._meta.indexes[0].fields == ["school", *columns[1:]]  # the index in the same order


@pytest.mark.parametrize("who", ["staff", "superuser choosing the school"])
def test_one_schools_list_is_in_school_order_and_never_joins(client, root, schools, who):
    a, _b = schools
    response, sqls = (
        student_queries(staff_of(client, a)) if who == "staff" else student_queries(root, f"?school__id__exact={a.pk}")
    )
    assert [s.class_name for s in response.context["cl"].result_list] == [
        "",
        "一年级2班",
        "一年级10班",
        "二年级2班",
        "二年级10班",
        "十年级1班",
    ]
    assert not [sql for sql in sqls if "JOIN" in sql], sqls


def test_sorting_by_the_grade_or_class_column_is_in_school_order(client, schools):
    a, _b = schools
    staff = staff_of(client, a)
    columns = list(staff.get(URL).context["cl"].list_display)
    by_class = staff.get(URL, {"o": f"-{columns.index('class_column')}"}).context["cl"].result_list
    assert [s.class_name for s in by_class][:3] == ["十年级1班", "二年级10班", "二年级2班"]
    by_grade = staff.get(URL, {"o": str(columns.index("grade_column"))}).context["cl"].result_list
    assert [s.grade for s in by_grade] == ["", "一年级", "一年级", "二年级", "二年级", "十年级"]


def test_a_page_shows_each_students_school_from_one_query(root, schools):
    with CaptureQueriesContext(connection) as captured:
        response = root.get(URL)
    content = response.content.decode()
    assert "甲小学" in content and "乙中学" in content
    assert len([q for q in captured.captured_queries if 'FROM "schools_school"' in q["sql"]]) == 2  # filter, page


def test_grades_and_classes_are_listed_in_school_order_from_the_own_schools_vocabulary(client, schools):
    a, _b = schools
    response = staff_of(client, a).get(URL)
    assert choices(response, "grade") == ["", "一年级", "二年级", "十年级"]
    assert choices(response, "class_name") == ["", "一年级2班", "一年级10班", "二年级2班", "二年级10班", "十年级1班"]


def test_a_staff_user_never_sees_another_schools_grades_or_classes(client, schools):
    _a, b = schools
    response = staff_of(client, b).get(URL)
    assert choices(response, "grade") == ["七年级"]
    assert choices(response, "class_name") == ["七年级1班", "七年级2班", "七年级3班"]


def test_a_superuser_sees_every_schools_vocabulary_or_the_chosen_schools(root, schools):
    a, b = schools
    assert choices(root.get(URL), "grade") == ["", "一年级", "二年级", "七年级", "十年级"]
    assert choices(root.get(URL, {"school__id__exact": b.pk}), "grade") == ["七年级"]
    chosen = root.get(URL, {"school__id__exact": a.pk, "grade": "二年级"})
    assert choices(chosen, "class_name") == ["", "一年级2班", "一年级10班", "二年级2班", "二年级10班", "十年级1班"]
    assert {s.class_name for s in chosen.context["cl"].result_list} == {"二年级2班", "二年级10班"}


def test_the_class_vocabulary_is_one_query_whatever_the_scope(schools, django_assert_num_queries):
    a, b = schools
    with django_assert_num_queries(1):
        vocabulary = class_vocabulary(school_id=a.pk)
    assert vocabulary.grades == ["", "一年级", "二年级", "十年级"]
    assert vocabulary.pairs[1:3] == (("一年级", "一年级2班"), ("一年级", "一年级10班"))
    assert class_vocabulary(school_id=b.pk).class_names == ["七年级1班", "七年级2班", "七年级3班"]
    assert len(class_vocabulary(school_id=ALL_SCHOOLS).pairs) == 9
    assert class_vocabulary(school_id=NO_SCHOOL).pairs == ()


def test_the_filters_choices_follow_the_roster(client, schools):
    a, _b = schools
    staff = staff_of(client, a)
    StudentFactory(school=a, grade="三年级", class_name="三年级1班", student_number="A-new")
    assert "三年级1班" in choices(staff.get(URL), "class_name")  # no cache to go stale


def test_search_finds_a_student_by_a_part_of_its_name_or_number_and_by_its_whole_user_id(root, schools):
    a, _b = schools
    wanted = StudentFactory(school=a, name="欧阳子涵Ann_%", student_number="2024123x", user_id="wxfp_Wanted01")
    for query in ["阳子涵", "欧阳", "阳", "子涵 ann", "NN_%", "241", "23X", "wxfp_Wanted01"]:
        assert list(root.get(URL, {"q": query}).context["cl"].result_list) == [wanted], query
    for query in ["wxfp_wanted01", "Wanted01", "阳欧", "n__", "nn%%", "涵涵", "2024123x 李"]:
        assert list(root.get(URL, {"q": query}).context["cl"].result_list) == [], query


def test_a_student_is_found_by_the_pinyin_initials_of_its_name(root):
    school = SchoolFactory()
    wanted = StudentFactory(school=school, name="王子涵")
    zeng = StudentFactory(school=school, name="曾小贤")  # 曾 as a surname: zēng
    StudentFactory(school=school, name="李思琪")

    def found(query):
        return list(root.get(URL, {"q": query, "school__id__exact": school.pk}).context["cl"].result_list)

    for query, students in [("wzh", [wanted]), ("WZ", [wanted]), ("zh", [wanted]), ("zxx", [zeng]), ("xx", [zeng])]:
        assert found(query) == students, query
    assert found("whz") == [] and found("cxx") == []
    assert "wzh" in root.get(URL).content.decode()  # the search box tells staff they can


def test_trigram_contains_finds_what_icontains_finds():
    names = ["aab", "aaab", "abab", "ba", "AB", "a_b", "a%b", "王诺诺", "诺王"]
    StudentFactory.create_batch(len(names), name=factory.Iterator(names))
    for term in ["a", "ab", "aab", "aa", "bab", "A_B", "%", "诺诺", "王诺", "诺王", "b", ""]:
        expected = set(Student.objects.filter(name__icontains=term).values_list("name", flat=True))
        assert set(Student.objects.filter(name__trigram_contains=term).values_list("name", flat=True)) == expected


# ------------------------------------------------------------ the school filter


def test_a_superuser_of_more_schools_than_a_list_takes_picks_one_by_its_code(root, schools, monkeypatch):
    a, b = schools
    monkeypatch.setattr(SchoolScopedRelatedFilter, "list_max", 1)
    with CaptureQueriesContext(connection) as captured:
        page = root.get(URL, {"q": "年级", "grade": "七年级"})
    assert choices(page, "school__id__exact") == []  # no link per school: "All" only
    assert [q for q in captured.captured_queries if 'FROM "schools_school"' in q["sql"]][0]["sql"].endswith("LIMIT 2")
    form = page.content.decode()
    assert 'name="school_code"' in form and '<input type="hidden" name="grade" value="七年级">' in form
    assert 'name="q" value="年级"' in form  # the search and the other filters are kept

    response, sqls = student_queries(root, f"?school_code={b.code}")
    assert choices(response, "school__id__exact") == ["乙中学"]  # the chosen school, selected
    assert {s.school_id for s in response.context["cl"].result_list} == {b.pk}
    assert not [sql for sql in sqls if "JOIN" in sql]  # by school_id
    assert choices(response, "grade") == ["七年级"]  # and its vocabulary
    assert list(root.get(URL, {"school_code": "no-such-school"}).context["cl"].result_list) == []


def test_a_staff_user_sees_its_one_school_listed_and_cannot_choose_another_by_code(client, schools):
    a, b = schools
    staff = staff_of(client, a)
    specs = staff.get(URL).context["cl"].filter_specs
    assert not [spec for spec in specs if "school_code" in spec.expected_parameters()]  # one school: no filter
    assert list(staff.get(URL, {"school_code": b.code}).context["cl"].result_list) == []


# ------------------------------------------------------------------ the count


def test_an_unfiltered_large_list_shows_the_estimate_and_runs_no_count(root, schools, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "estimate_above", 5)
    analyse_students()
    StudentFactory.create_batch(3, school=schools[0])  # after ANALYZE: the estimate stays at 9
    response, sqls = student_queries(root)
    if connection.vendor == "postgresql":
        assert response.context["cl"].result_count == 9
        assert not [sql for sql in sqls if "COUNT(" in sql]
    else:
        assert response.context["cl"].result_count == 12  # SQLite counts
    filtered, sqls = student_queries(root, "?grade=七年级")
    assert filtered.context["cl"].result_count == 3 and [sql for sql in sqls if "COUNT(" in sql]
    assert student_queries(root, "?q=B1")[0].context["cl"].result_count == 1  # searched: counted


def test_a_small_or_scoped_list_is_counted(client, schools, monkeypatch):
    analyse_students()
    StudentFactory.create_batch(3, school=schools[1])
    assert EstimatedCountPaginator(Student.objects.all(), 50).count == 12  # under estimate_above
    monkeypatch.setattr(EstimatedCountPaginator, "estimate_above", 5)
    response = staff_of(client, schools[1]).get(URL)  # WHERE school_id = …: exact
    assert response.context["cl"].result_count == 6


def analyse_students():
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE schools_student")  # reltuples: 9


# --------------------------------------------------------- PostgreSQL's plans


def explain(sql: str, **off) -> str:
    """PostgreSQL's plan of ``sql`` with the planner's methods in ``off`` disabled (a table of ten rows
    is read whole; disabling the whole-table plans shows which index can serve the query)."""
    with connection.cursor() as cursor:
        for method in off:
            cursor.execute(f"SET LOCAL enable_{method} = off")
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        for method in off:
            cursor.execute(f"RESET enable_{method}")
    return plan


@pytest.mark.postgres
def test_a_page_is_read_in_order_from_the_order_index(root, schools):
    plan = explain(page_query(student_queries(root)[1]), seqscan=True, sort=True, bitmapscan=True)
    assert "student_school_order_idx" in plan and "Sort" not in plan, plan
    # One school's page is in school order (``class_ranks``): PostgreSQL reads that school's students
    # by an index and sorts them (a few thousand at most, a top-N sort), never every student.
    staff_page = page_query(student_queries(staff_of(root, schools[0]))[1])
    plan = explain(staff_page, seqscan=True, bitmapscan=True)
    assert "Index Cond: (school_id = " in plan and "Seq Scan" not in plan, plan


@pytest.mark.postgres
@pytest.mark.parametrize("term", ["子涵", "阳子涵", "2024"])
def test_search_of_two_characters_or_more_goes_through_the_trigram_indexes(root, schools, term):
    wanted = StudentFactory(school=schools[0], name="欧阳子涵", student_number="2024123")
    response, sqls = student_queries(root, f"?q={term}")
    assert wanted in response.context["cl"].result_list
    plan = explain(page_query(sqls), seqscan=True, indexscan=True)  # left: bitmaps of the indexes that serve it
    arms = ("student_name_trgm_idx", "student_name_initials_trgm_idx", "student_student_number_trgm_idx")
    for arm in (*arms, "Index Cond: ((user_id)::text = "):
        assert arm in plan, plan  # all four arms of the OR from an index: no scan of the students
    assert "Seq Scan" not in plan


@pytest.mark.postgres
def test_the_vocabulary_is_a_loose_scan_of_an_index(schools):
    a, _b = schools
    with CaptureQueriesContext(connection) as captured:
        class_vocabulary(school_id=a.pk)
        class_vocabulary(school_id=ALL_SCHOOLS)
    one, every = (q["sql"] for q in captured.captured_queries)
    assert "DISTINCT" not in one + every
    assert "student_school_order_idx" in explain(one, seqscan=True, bitmapscan=True)
    assert "student_grade_class_idx" in explain(every, seqscan=True, bitmapscan=True)
