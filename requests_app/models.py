from django.db import models

from hostfactory.models import AggregateAnchor


class Request(AggregateAnchor):
    """Admin and permission anchor for requests (stored by the repositories, not here)."""

    request_id = models.CharField(max_length=64, primary_key=True)

    class Meta(AggregateAnchor.Meta):
        managed = False
        verbose_name = "request"
        verbose_name_plural = "requests"
        permissions = [
            ("cancel_request", "Can cancel a request"),
            ("call_hostfactory", "Can call the Host Factory endpoints"),
        ]

    def __str__(self) -> str:
        return self.request_id
