"""The one order of grades and classes as a school reads them, used wherever they are listed or sorted
(filters, the student list, the dashboard, the usage report, exports).

A grade is ranked by its school year, from the names Chinese rosters use for it: 一年级 … 六年级
(primary), 七年级 … 九年级 or 初一 … 初三 (junior middle), 十年级 … 十二年级 or 高一 … 高三 (senior
middle). A class is ranked by the grade its name starts with (``初二3班``, ``七年级1班``), then by the
rest of its name with its numbers compared as numbers (2班 < 10班; Arabic or Chinese numerals). A
name that starts with no known grade comes after the known ones, in the same natural order; a
blank name (a student with no grade or class) comes first.
"""

import re
from collections.abc import Iterable

from django.db.models import Case, IntegerField, Value, When

# Each school year, 1 to 12, with the names rosters give it; a name's longest match wins (十一年级
# before 十年级, 一年级 only when nothing longer matches).
SCHOOL_YEARS: dict[int, tuple[str, ...]] = {
    1: ("一年级",),
    2: ("二年级",),
    3: ("三年级",),
    4: ("四年级",),
    5: ("五年级",),
    6: ("六年级",),
    7: ("七年级", "初一"),
    8: ("八年级", "初二"),
    9: ("九年级", "初三"),
    10: ("十年级", "高一"),
    11: ("十一年级", "高二"),
    12: ("十二年级", "高三"),
}
_GRADE_PREFIXES = sorted(
    ((name, year) for year, names in SCHOOL_YEARS.items() for name in names), key=lambda item: -len(item[0])
)

_NUMERALS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMBER_RUN = re.compile(r"(\d+|[零〇一二两三四五六七八九十]+)")


def _chinese_number(run: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十三 → 23 (up to 99: grades and classes)."""
    if "十" not in run:
        return int("".join(str(_NUMERALS[c]) for c in run))
    tens, _ten, ones = run.partition("十")
    return (_NUMERALS.get(tens, 1) if tens else 1) * 10 + (_NUMERALS.get(ones, 0) if ones else 0)


def _natural_key(text: str) -> tuple:
    """Text and numbers alternating, numbers compared as numbers: 2班 < 10班, 二班 < 十班."""
    parts = _NUMBER_RUN.split(text)
    return tuple(
        (1, int(part) if part.isdigit() else _chinese_number(part), "") if n % 2 else (0, 0, part)
        for n, part in enumerate(parts)
    )


def school_year(name: str) -> int | None:
    """The school year (1–12) of the grade ``name`` starts with (``初二3班`` → 8), or None."""
    name = name.strip()
    for prefix, year in _GRADE_PREFIXES:
        if name.startswith(prefix):
            return year
    return None


def class_sort_key(name: str) -> tuple:
    """The sort key of a grade or class name in school order: blank first, then by school year
    (一年级 < 六年级 < 初一 = 七年级 < 高三), then the rest of the name naturally (2班 < 10班), then
    names of no known grade, naturally."""
    name = name.strip()
    if not name:
        return (0,)
    year = school_year(name)
    if year is None:
        return (2, _natural_key(name))
    rest = next(name[len(prefix) :] for prefix, y in _GRADE_PREFIXES if y == year and name.startswith(prefix))
    return (1, year, _natural_key(rest))


def school_ordered(names: Iterable[str]) -> list[str]:
    """``names`` once each, in school order (``class_sort_key``)."""
    return sorted(set(names), key=class_sort_key)


def school_order_rank(field: str, names: Iterable[str]) -> Case:
    """A SQL expression ranking ``field`` (``grade``, ``student__class_name``) in school order among
    ``names`` (the vocabulary of the rows' school: ``schools.selectors.class_vocabulary``), for
    ``order_by``. 0, 1, 2 … by ``class_sort_key``; a value not in ``names`` ranks last. The database
    sorts by it, so use it on one school's rows (a few thousand), not on every school's at once."""
    ordered = school_ordered(names)
    return Case(
        *(When(**{field: name}, then=Value(rank)) for rank, name in enumerate(ordered)),
        default=Value(len(ordered)),
        output_field=IntegerField(),
    )
