# A contact's default ordering by student_id: ordering by the relation joined Student (and, through
# the student's ordering, School). Issue 11.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0007_share_link_expiry_batches"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="contact",
            options={
                "ordering": ["student_id", "-role", "bound_at", "id"],
                "verbose_name": "contact",
                "verbose_name_plural": "contacts",
            },
        ),
    ]
