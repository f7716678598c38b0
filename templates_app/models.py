from django.db import models

from hostfactory.models import AggregateAnchor


class Template(AggregateAnchor):
    """Admin and permission anchor for templates (stored by the repositories, not here)."""

    template_id = models.CharField(max_length=64, primary_key=True)

    class Meta(AggregateAnchor.Meta):
        managed = False
        verbose_name = "template"
        verbose_name_plural = "templates"

    def __str__(self) -> str:
        return self.template_id
