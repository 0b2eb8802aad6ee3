# An import job's file is read back a quarter megabyte at a time by the COPY import (schools.roster.copy.JobFile:
# substring of the bytea). Compressed, each slice decompresses the value from its start (1,000,000 rows,
# 65 MB: 5 s of decompression at 1 MB a slice, 17 s at 256 KB); stored EXTERNAL (out of line, not
# compressed) a slice reads only its own pages. The file is kept only until its job ends. PostgreSQL
# only; nothing on SQLite. Issue 11 (bench/import_roster.py).

from django.db import migrations


def store_external(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE schools_importjob ALTER COLUMN data SET STORAGE EXTERNAL")


def store_extended(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE schools_importjob ALTER COLUMN data SET STORAGE EXTENDED")


class Migration(migrations.Migration):
    dependencies = [
        ("schools", "0015_student_search_trigram_indexes"),
    ]

    operations = [migrations.RunPython(store_external, store_extended, elidable=False)]
