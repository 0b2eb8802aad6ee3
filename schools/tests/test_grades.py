"""The one order of grades and classes (``schools.grades``): school years, then numbers as numbers."""

import random

import pytest

from schools.grades import class_sort_key, school_ordered, school_year

PRIMARY = ["一年级", "二年级", "三年级", "四年级", "五年级", "六年级"]
MIDDLE = ["初一", "初二", "初三", "高一", "高二", "高三"]


def shuffled(names):
    names = list(names)
    random.Random(12).shuffle(names)
    return names


def test_grades_are_in_school_years_not_in_character_order():
    assert sorted(PRIMARY) != PRIMARY  # what a plain sort gives: 一, 三, 二, 五, 六, 四
    assert school_ordered(shuffled(PRIMARY + MIDDLE)) == PRIMARY + MIDDLE


@pytest.mark.parametrize(
    ("name", "year"),
    [("一年级", 1), ("七年级", 7), ("初一", 7), ("九年级", 9), ("初三", 9), ("十年级", 10), ("高一", 10)]
    + [("十一年级", 11), ("高二", 11), ("十二年级", 12), ("高三", 12), ("初二(3)班", 8), ("学前班", None)],
)
def test_each_name_of_a_school_year(name, year):
    assert school_year(name) == year


def test_classes_follow_their_grade_then_their_number_as_a_number():
    classes = ["一年级2班", "一年级10班", "二年级1班", "六年级12班", "初一1班", "初一2班", "初一10班", "高三1班"]
    assert school_ordered(shuffled(classes)) == classes
    assert school_ordered(["10班", "2班", "1班", "12班"]) == ["1班", "2班", "10班", "12班"]
    assert school_ordered(["十班", "二班", "一班"]) == ["一班", "二班", "十班"]


def test_blank_first_unknown_grades_last_and_nothing_raises():
    assert school_ordered(["兴趣班2", "", "一年级1班", "兴趣班10"]) == ["", "一年级1班", "兴趣班2", "兴趣班10"]
    assert class_sort_key(" 一年级 ") == class_sort_key("一年级")
