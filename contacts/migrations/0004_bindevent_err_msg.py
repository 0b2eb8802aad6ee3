from django.db import migrations


class Migration(migrations.Migration):
    """snake_case inside: ``BindEvent.errMsg`` → ``err_msg`` (WeChat's ``errMsg`` stays in the API)."""

    dependencies = [
        ("contacts", "0003_claimcode"),
    ]

    operations = [
        migrations.RenameField(model_name="bindevent", old_name="errMsg", new_name="err_msg"),
    ]
