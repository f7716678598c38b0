"""Two plugin roles instead of one (docs/security.md "Roles"): the new hostfactory-provisioners
group, and hostfactory-plugins reduced to the Host Factory operations and reads."""

from django.db import migrations

from hostfactory.groups import PROVISIONERS, ensure_groups


def split_plugin_roles(apps, schema_editor):
    ensure_groups(apps)


def remove_provisioners(apps, schema_editor):
    # The plugins group keeps its reduced permissions: giving writes back is not an undo to automate.
    apps.get_model("auth", "Group").objects.filter(name=PROVISIONERS).delete()


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0002_groups")]

    operations = [migrations.RunPython(split_plugin_roles, remove_provisioners)]
