from django.db import models

from hostfactory.models import AggregateAnchor


class Machine(AggregateAnchor):
    """Admin and permission anchor for machines (stored by the repositories, not here)."""

    machine_id = models.CharField(max_length=255, primary_key=True)

    class Meta(AggregateAnchor.Meta):
        managed = False
        verbose_name = "machine"
        verbose_name_plural = "machines"
        permissions = [("reclaim_machine", "Can ask Host Factory to return a machine")]

    def __str__(self) -> str:
        return self.machine_id
