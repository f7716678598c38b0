"""The Django admin over the repositories, by concern: ``queryset`` (the lazy repository
query the admin handles as a QuerySet), ``changelist`` (sidebar filters from the filter
declarations, cursor paging), ``model_admin`` (RepositoryModelAdmin), ``forms`` (the
aggregate forms' base), ``display`` (list cells and links), ``dashboard`` (the fleet counts
on the index page)."""

from hostfactory.admin.changelist import sidebar_filters
from hostfactory.admin.display import admin_link, aggregate_field
from hostfactory.admin.model_admin import FILTER_SAMPLE, RepositoryModelAdmin, template_options
from hostfactory.admin.queryset import AggregateQuerySet

__all__ = [
    "FILTER_SAMPLE",
    "AggregateQuerySet",
    "RepositoryModelAdmin",
    "admin_link",
    "aggregate_field",
    "sidebar_filters",
    "template_options",
]
