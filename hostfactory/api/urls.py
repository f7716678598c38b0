"""/api/v1/: the three resources, the Host Factory endpoints and the health check."""

from django.urls import include, path, re_path

from hostfactory.api.events import EventFeedView
from hostfactory.api.health import HealthView
from hostfactory.api.root import ApiRootView, NoEndpointView

urlpatterns = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("health/", HealthView.as_view(), name="health"),
    path("events/", EventFeedView.as_view(), name="event-list"),
    path("hostfactory/", include("hostfactory.hostfactory_api.urls")),
    path("", include("templates_app.urls")),
    path("", include("requests_app.urls")),
    path("", include("machines_app.urls")),
    re_path(r"^.*$", NoEndpointView.as_view(), name="no-endpoint"),  # a JSON 404, not Django's HTML page
]
