"""Root URLs: the console (the admin, where / leads), the REST API under /api/v1/, and the
OpenAPI schema and docs."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from hostfactory.api.docs import DocsView, SchemaView
from hostfactory.metrics import metrics_view

urlpatterns = [
    # The admin's "View site" link (admin.site.site_url, "/" by default) lands on the console.
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("hostfactory.api.urls")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    # The split view serves its script as a file, so the page needs no inline script (CSP).
    path("api/docs/", DocsView.as_view(url_name="schema"), name="swagger-ui"),
    path("metrics", metrics_view, name="metrics"),
]
