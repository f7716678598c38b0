"""The groups of api.md (and docs/security.md) and their permissions: one definition, used by the data
migration and again after every ``migrate`` or database flush, so the groups are always
there (a flush keeps Django's permissions but would otherwise lose data-migration rows)."""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

APPS = ("templates_app", "requests_app", "machines_app")
PLUGINS = "hostfactory-plugins"
PROVISIONERS = "hostfactory-provisioners"
OPERATORS = "hostfactory-operators"
VIEWERS = "hostfactory-viewers"
EVERYTHING = "*"
READ = [
    "templates_app.view_template",
    "requests_app.view_request",
    "machines_app.view_machine",
]
GROUPS = {
    # The Host Factory scripts: the five operations, and reads.
    PLUGINS: ["requests_app.call_hostfactory", *READ],
    # A provisioner outside this service: registers the machines it launched, reports their
    # status, and moves requests as the transition table allows, except ending them by hand
    # (that needs requests_app.cancel_request, which only operators have).
    PROVISIONERS: [
        *READ,
        "requests_app.change_request",
        "machines_app.add_machine",
        "machines_app.change_machine",
        "machines_app.reclaim_machine",
    ],
    OPERATORS: EVERYTHING,
    VIEWERS: READ,
}
# The roles ``create_plugin_token --role`` gives a token user.
TOKEN_ROLES = {"plugin": PLUGINS, "provisioner": PROVISIONERS}


def ensure_groups(apps=global_apps, only_missing: bool = False) -> None:
    """Create the groups (or, with ``only_missing``, just the absent ones) and give each
    exactly its permissions (a permission a group lost, such as the plugins' writes, is removed)."""
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
        group.permissions.set([_permission(ours, codename) for codename in wanted])


def _permission(ours, codename: str):
    app_label, code = codename.split(".")
    return ours.get(content_type__app_label=app_label, codename=code)


def ensure_groups_after_migrate(sender, **kwargs) -> None:
    """post_migrate receiver: also runs after a test database flush."""
    if sender.name == APPS[-1]:
        ensure_groups(only_missing=True)
