"""/api/v1/machines/..."""

from rest_framework.routers import SimpleRouter

from machines_app.views import MachineViewSet

router = SimpleRouter()
router.register("machines", MachineViewSet, basename="machine")
urlpatterns = router.urls
