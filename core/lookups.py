"""A substring search that a PostgreSQL trigram index serves for terms as short as two characters.

pg_trgm indexes the three-character runs of a text; ``LIKE '%王诺%'`` has none, so a GIN trigram
index cannot serve a two-character term, the most common Chinese name (王诺, 子涵), and PostgreSQL
reads the whole table. With each character doubled (``王诺`` → ``王王诺诺``) a two-character term
has two trigrams, and a text contains a term exactly when its doubled text contains the doubled
term (a match at an odd offset needs a run of one repeated character, which also matches aligned).
"""

from django.db.models import Func, TextField
from django.db.models.functions import Upper
from django.db.models.lookups import IContains


class Doubled(Func):
    """``regexp_replace(text, '(.)', '\\1\\1', 'g')``: each character twice. Index and query must
    write it alike (``GinIndex(OpClass(Doubled(Upper("name")), name="gin_trgm_ops"))``)."""

    template = r"regexp_replace(%(expressions)s, '(.)', '\1\1', 'g')"
    arity = 1
    output_field = TextField()


def doubled(text: str) -> str:
    """Each character twice, as ``Doubled`` in SQL."""
    return "".join(character * 2 for character in text)


class TrigramContains(IContains):
    """``field__trigram_contains=term``: ``icontains`` (a case-insensitive substring) written, on
    PostgreSQL, as ``Doubled(UPPER(field)) LIKE UPPER('%' || doubled(term) || '%')``, which a GIN
    ``gin_trgm_ops`` index on ``Doubled(Upper(field))`` serves for terms of two characters or more
    (one-character terms are read from the table). Plain ``icontains`` on other databases.
    Registered on the fields that have such an index (``schools.models.Student``)."""

    lookup_name = "trigram_contains"

    def as_sql(self, compiler, connection):
        return IContains(self.lhs, self.rhs).as_sql(compiler, connection)

    def as_postgresql(self, compiler, connection):
        if not isinstance(self.rhs, str):  # an expression: icontains as usual
            return self.as_sql(compiler, connection)
        lhs_sql, lhs_params = compiler.compile(Doubled(Upper(self.lhs)))
        pattern = f"%{connection.ops.prep_for_like_query(doubled(self.rhs))}%"
        return f"{lhs_sql} LIKE UPPER(%s)", [*lhs_params, pattern]
