"""The three groups of api.md, with Django's own permissions on the three aggregates."""

from django.db import migrations

from hostfactory.groups import GROUPS, ensure_groups


def create_groups(apps, schema_editor):
    ensure_groups(apps)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("templates_app", "0001_initial"),
        ("requests_app", "0001_initial"),
        ("machines_app", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
