"""The Django admin over the repositories, by concern: ``queryset`` (the lazy repository
query the admin handles as a QuerySet), ``changelist`` (sidebar filters from the filter
declarations, cursor paging), ``model_admin`` (RepositoryModelAdmin), ``forms`` (the
aggregate forms' base), ``display`` (list cells and links), ``dashboard`` (the triage panels
on the index page), ``passes`` (its passes panel and 24-hour chart). Importing it names the
console on Django's admin site (header, tab titles, the index's title), so no page says
"Django administration", and gives the lists the page's width (no navigation sidebar)."""

from django.contrib import admin

from hostfactory.admin.changelist import sidebar_filters
from hostfactory.admin.display import admin_link, aggregate_age, aggregate_field, id_column
from hostfactory.admin.model_admin import FILTER_SAMPLE, RepositoryModelAdmin, aws_provider_on, template_options
from hostfactory.admin.queryset import AggregateQuerySet

CONSOLE_NAME = "Host Factory console"
admin.site.site_header = CONSOLE_NAME
admin.site.site_title = CONSOLE_NAME
admin.site.index_title = "Fleet triage"
# The lists need the width (a machine row has a dozen columns at 1400 px); the breadcrumbs
# and the index lead everywhere the sidebar would.
admin.site.enable_nav_sidebar = False

__all__ = [
    "CONSOLE_NAME",
    "FILTER_SAMPLE",
    "AggregateQuerySet",
    "RepositoryModelAdmin",
    "admin_link",
    "aggregate_age",
    "aggregate_field",
    "aws_provider_on",
    "id_column",
    "sidebar_filters",
    "template_options",
]
