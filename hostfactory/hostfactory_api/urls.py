"""/api/v1/hostfactory/<operation>: Host Factory's own operation names, no trailing slash."""

from django.urls import path

from hostfactory.hostfactory_api import views

urlpatterns = [
    path("getAvailableTemplates", views.GetAvailableTemplatesView.as_view(), name="hf-get-available-templates"),
    path("requestMachines", views.RequestMachinesView.as_view(), name="hf-request-machines"),
    path("requestReturnMachines", views.RequestReturnMachinesView.as_view(), name="hf-request-return-machines"),
    path("getRequestStatus", views.GetRequestStatusView.as_view(), name="hf-get-request-status"),
    path("getReturnRequests", views.GetReturnRequestsView.as_view(), name="hf-get-return-requests"),
]
