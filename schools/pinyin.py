"""A student's name as pinyin initials (王子涵 → ``wzh``), which staff type to find a student
(``Student.name_initials``, searched by the admin like the name: ``schools.admin.students``).

pypinyin reads each Chinese character; its reading is cached per character (a name is a few
dictionary lookups, about 1 µs, so the COPY import of 100,000 students does not wait on it;
pypinyin's phrase analysis costs 40 µs a name). A character with several readings takes its most
common one, except the first character of the name, a surname, whose surname reading is known
for the common polyphonic surnames (曾 zēng, 单 shàn, 解 xiè…). Latin words give their first
letter (Tom 李 → ``tl``); other characters (digits, ·, spaces) give nothing.
"""

from functools import cache

from pypinyin import Style, lazy_pinyin

# The surname reading where it is not the character's most common one (pypinyin's first reading).
SURNAME_INITIALS = {
    "曾": "z", "单": "s", "解": "x", "乐": "y", "区": "o", "查": "z", "仇": "q", "覃": "q", "尉": "y",
    "盖": "g", "缪": "m", "召": "s", "种": "c", "翟": "z", "员": "y", "句": "g", "隗": "w", "秘": "b",
    "繁": "p", "朴": "p", "长": "z", "万": "w", "都": "d", "和": "h", "能": "n", "沈": "s", "重": "c",
}  # fmt: skip


@cache
def _initial(character: str) -> str:
    """The lower-case initial of one Chinese character's most common reading, or ``""``."""
    readings = lazy_pinyin(character, style=Style.FIRST_LETTER, errors="ignore")
    initial = readings[0][:1].lower() if readings else ""
    return initial if initial.isascii() and initial.isalpha() else ""


def name_initials(name: str) -> str:
    """``name``'s pinyin initials, lower case (``"王子涵"`` → ``"wzh"``); at most as many
    characters as ``name`` (``Student.name_initials`` has ``name``'s max_length)."""
    initials, in_word = [], False
    for position, character in enumerate(name):
        if character.isascii():
            if character.isalpha() and not in_word:
                initials.append(character.lower())
            in_word = character.isalpha()
            continue
        in_word = False
        initial = SURNAME_INITIALS.get(character) if position == 0 else None
        initials.append(initial or _initial(character))
    return "".join(initials)
