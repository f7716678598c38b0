"""The three groups of api.md and their permissions: one definition, used by the data
migration and again after every ``migrate`` or database flush, so the groups are always
there (a flush keeps Django's permissions but would otherwise lose data-migration rows)."""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

APPS = ("templates_app", "requests_app", "machines_app")
PLUGINS = "hostfactory-plugins"
OPERATORS = "hostfactory-operators"
VIEWERS = "hostfactory-viewers"
EVERYTHING = "*"
GROUPS = {
    PLUGINS: [
        "requests_app.call_hostfactory",
        "templates_app.view_template",
        "requests_app.view_request",
        "requests_app.add_request",
        "requests_app.change_request",
        "machines_app.view_machine",
        "machines_app.add_machine",
        "machines_app.change_machine",
        "machines_app.reclaim_machine",
    ],
    OPERATORS: EVERYTHING,
    VIEWERS: [
        "templates_app.view_template",
        "requests_app.view_request",
        "machines_app.view_machine",
    ],
}


def ensure_groups(apps=global_apps, only_missing: bool = False) -> None:
    """Create the groups (or, with ``only_missing``, just the absent ones) with their permissions."""
    for label in APPS:
        # Permissions are normally created after migrations; the data migration needs them now.
        app_config = apps.get_app_config(label)
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label__in=APPS)
    for name, wanted in GROUPS.items():
        group, created = Group.objects.get_or_create(name=name)
        if only_missing and not created:
            continue
        if wanted == EVERYTHING:
            group.permissions.set(ours)
            continue
        for codename in wanted:
            app_label, code = codename.split(".")
            group.permissions.add(ours.get(content_type__app_label=app_label, codename=code))


def ensure_groups_after_migrate(sender, **kwargs) -> None:
    """post_migrate receiver: also runs after a test database flush."""
    if sender.name == APPS[-1]:
        ensure_groups(only_missing=True)
