from django.apps import AppConfig


class HostFactoryConfig(AppConfig):
    name = "hostfactory"
    verbose_name = "Host Factory"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from hostfactory import checks  # noqa: F401  (registers the system checks)
        from hostfactory.groups import ensure_groups_after_migrate
        from hostfactory.providers import check_template_launchable
        from hostfactory.providers import checks as provider_checks  # noqa: F401
        from templates_app.services import launch_checks

        if check_template_launchable not in launch_checks:
            launch_checks.append(check_template_launchable)

        post_migrate.connect(ensure_groups_after_migrate, dispatch_uid="hostfactory-groups")
