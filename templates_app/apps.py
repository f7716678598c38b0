from django.apps import AppConfig


class TemplatesAppConfig(AppConfig):
    name = "templates_app"
    verbose_name = "Templates"

    def ready(self) -> None:
        from hostfactory.storage import build_hooks
        from templates_app.services import templates_preload

        if templates_preload not in build_hooks:
            build_hooks.append(templates_preload)
