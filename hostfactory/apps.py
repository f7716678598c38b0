from django.apps import AppConfig


class HostFactoryConfig(AppConfig):
    name = "hostfactory"
    verbose_name = "Host Factory"

    def ready(self) -> None:
        from hostfactory import checks  # noqa: F401  (registers the system checks)
        from hostfactory.providers import checks as provider_checks  # noqa: F401
