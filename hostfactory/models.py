"""Table-less Django models: they anchor the admin registrations and Django's permissions
(view/add/change/delete per aggregate) while the aggregates live in the repositories."""

from django.db import models


class NoDatabaseQuerySet(models.QuerySet):
    """Always empty, and never sent to the database (there is no table)."""

    def _fetch_all(self):
        if self._result_cache is None:
            self._result_cache = []
        self._prefetch_done = True

    def count(self):
        return 0

    def exists(self):
        return False

    def iterator(self, chunk_size=None):
        return iter(())


class NoDatabaseManager(models.Manager.from_queryset(NoDatabaseQuerySet)):
    """So ``dumpdata``, unique checks and stray ORM calls stay harmless."""

    use_in_migrations = False


class AggregateAnchor(models.Model):
    objects = NoDatabaseManager()

    class Meta:
        abstract = True
        managed = False
        default_permissions = ("add", "change", "delete", "view")
