"""The service's URLs plus ``GET /bench/trivial/``: a DRF view with no authentication, no
permission and no storage, the framework's ceiling the Host Factory calls are measured against."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hostfactory.urls import urlpatterns as service_urlpatterns


class TrivialView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns = [
    path("bench/trivial/", TrivialView.as_view()),  # TRIVIAL_PATH in http_bench.py
    *service_urlpatterns,
]
