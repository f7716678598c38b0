from hostfactory.storage.memory import MemoryRepository
from requests_app.repository import RequestRepository


class MemoryRequestRepository(MemoryRepository, RequestRepository):
    """Requests in process memory (development, tests, demos)."""
