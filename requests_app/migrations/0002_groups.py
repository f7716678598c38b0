"""The three groups of api.md, with Django's own permissions on the three aggregates."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

APPS = ("templates_app", "requests_app", "machines_app")
GROUPS = {
    "hostfactory-plugins": [
        "requests_app.call_hostfactory",
        "templates_app.view_template",
        "requests_app.view_request",
        "requests_app.add_request",
        "requests_app.change_request",
        "machines_app.view_machine",
        "machines_app.add_machine",
        "machines_app.change_machine",
    ],
    "hostfactory-operators": "*",
    "hostfactory-viewers": [
        "templates_app.view_template",
        "requests_app.view_request",
        "machines_app.view_machine",
    ],
}


def create_groups(apps, schema_editor):
    # Permissions are normally created after migrations; create them now to attach them.
    for label in APPS:
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label__in=APPS)
    for name, wanted in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        if wanted == "*":
            group.permissions.set(ours)
            continue
        for codename in wanted:
            app_label, code = codename.split(".")
            group.permissions.add(ours.get(content_type__app_label=app_label, codename=code))


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
