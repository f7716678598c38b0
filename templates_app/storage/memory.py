from hostfactory.storage.memory import MemoryRepository
from templates_app.repository import TemplateRepository


class MemoryTemplateRepository(MemoryRepository, TemplateRepository):
    """Templates in process memory (development, tests, demos)."""
