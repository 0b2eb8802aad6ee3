"""The order of grades and classes as a school reads them: 一年级 < 二年级 < 十年级, 2班 < 10班."""

import re

_NUMERALS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMBER_RUN = re.compile(r"(\d+|[零〇一二两三四五六七八九十]+)")


def _chinese_number(run: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十三 → 23 (up to 99: grades and classes)."""
    if "十" not in run:
        return int("".join(str(_NUMERALS[c]) for c in run))
    tens, _ten, ones = run.partition("十")
    return (_NUMERALS.get(tens, 1) if tens else 1) * 10 + (_NUMERALS.get(ones, 0) if ones else 0)


def class_sort_key(name: str) -> tuple:
    """Natural order of class (or grade) names: 一年级2班 < 二年级1班 < 十年级1班, 2班 < 10班."""
    parts = _NUMBER_RUN.split(name)
    return tuple(
        (1, int(part) if part.isdigit() else _chinese_number(part), "") if n % 2 else (0, 0, part)
        for n, part in enumerate(parts)
    )
