# The default orderings of students, devices and device groups by school_id (ordering by the
# relation joined School and sorted by its name), with a composite index in that order, so that a
# page of the admin is an index scan. The composite index leads with school_id, so each model's
# single-column school_id index goes. Issue 11 (bench/changelist.py).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("schools", "0013_webhook_delivery_state_and_time"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="device",
            options={
                "ordering": ["school_id", "sn", "model_id"],
                "verbose_name": "device",
                "verbose_name_plural": "devices",
            },
        ),
        migrations.AlterModelOptions(
            name="devicegroup",
            options={
                "ordering": ["school_id", "name", "id"],
                "verbose_name": "device group",
                "verbose_name_plural": "device groups",
            },
        ),
        migrations.AlterModelOptions(
            name="student",
            options={
                "ordering": ["school_id", "grade", "class_name", "student_number", "id"],
                "verbose_name": "student",
                "verbose_name_plural": "students",
            },
        ),
        # The new indexes first, so that no query is left without one meanwhile.
        migrations.AddIndex(
            model_name="device",
            index=models.Index(fields=["school", "sn", "model_id"], name="device_school_order_idx"),
        ),
        migrations.AddIndex(
            model_name="devicegroup",
            index=models.Index(fields=["school", "name", "id"], name="device_group_school_order_idx"),
        ),
        migrations.AddIndex(
            model_name="student",
            index=models.Index(
                fields=["school", "grade", "class_name", "student_number", "id"], name="student_school_order_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="student",
            index=models.Index(fields=["grade", "class_name"], name="student_grade_class_idx"),
        ),
        migrations.AlterField(
            model_name="device",
            name="school",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="devices",
                to="schools.school",
                verbose_name="school",
            ),
        ),
        migrations.AlterField(
            model_name="devicegroup",
            name="school",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="device_groups",
                to="schools.school",
                verbose_name="school",
            ),
        ),
        migrations.AlterField(
            model_name="student",
            name="school",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="students",
                to="schools.school",
                verbose_name="school",
            ),
        ),
        migrations.RemoveIndex(model_name="student", name="student_school_class_idx"),
    ]
