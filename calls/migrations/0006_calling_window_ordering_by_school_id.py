# A calling window's default ordering by school_id: ordering by the relation joined School for its
# name. Issue 11.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0005_invariant_check_runs"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="callingwindow",
            options={
                "ordering": ["school_id", "weekday", "start_time"],
                "verbose_name": "calling window",
                "verbose_name_plural": "calling windows",
            },
        ),
    ]
