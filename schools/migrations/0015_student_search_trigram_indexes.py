# The admin's student search on PostgreSQL: pg_trgm and a GIN trigram index on each column searched by
# substring, name and student_number (user_id is searched by equality, served by its unique index),
# over the expression the search's lookup writes (core.lookups.TrigramContains): the upper-cased text
# with each character doubled, so that two-character terms (王诺) have trigrams too. An index on the
# bare column would serve none of it. Built concurrently (the table stays writable; hence
# atomic = False); nothing on SQLite, whose search reads its small table. Issue 11 (bench/changelist.py).

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations
from django.db.models.functions import Upper

from core.lookups import Doubled
from core.migration_operations import AddIndexOnPostgreSQL


def trigram_index(column: str) -> GinIndex:
    return GinIndex(OpClass(Doubled(Upper(column)), name="gin_trgm_ops"), name=f"student_{column}_trgm_idx")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("schools", "0014_orderings_without_school_join"),
    ]

    operations = [
        TrigramExtension(),  # a no-op on SQLite
        *(AddIndexOnPostgreSQL("student", trigram_index(column)) for column in ("name", "student_number")),
    ]
