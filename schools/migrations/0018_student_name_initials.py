# Students found by their names' pinyin initials (issue 12 §6): the column (rows written by raw SQL
# get the database default ""), filled for the students there are (schools.pinyin, BATCH rows per
# UPDATE, each committed on its own: the table stays writable, and a rerun fills what is left), and
# on PostgreSQL its GIN trigram index like name's (migration 0015), built concurrently; hence
# atomic = False.

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import migrations, models
from django.db.models.functions import Upper

from core.lookups import Doubled
from core.migration_operations import AddIndexOnPostgreSQL
from schools.pinyin import name_initials

BATCH = 1000


def fill_name_initials(apps, schema_editor):
    student_model = apps.get_model("schools", "Student")
    last = 0
    while True:
        batch = list(
            student_model.objects.filter(pk__gt=last, name_initials="").exclude(name="").order_by("pk").only("name")[
                :BATCH
            ]
        )
        if not batch:
            return
        for student in batch:
            student.name_initials = name_initials(student.name)
        student_model.objects.bulk_update(batch, ["name_initials"])
        last = batch[-1].pk


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("schools", "0017_words_a_school_uses"),
    ]

    operations = [
        migrations.AddField(
            model_name="student",
            name="name_initials",
            field=models.CharField(
                blank=True,
                db_default="",
                editable=False,
                help_text="The name's pinyin initials (王子涵: wzh), written with the name; staff search by them.",
                max_length=64,
                verbose_name="name initials",
            ),
        ),
        migrations.RunPython(fill_name_initials, migrations.RunPython.noop, elidable=True),
        AddIndexOnPostgreSQL(
            "student",
            GinIndex(OpClass(Doubled(Upper("name_initials")), name="gin_trgm_ops"), name="student_name_initials_trgm_idx"),
        ),
    ]
