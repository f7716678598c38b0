from hostfactory.storage.memory import MemoryRepository
from machines_app.repository import MachineRepository


class MemoryMachineRepository(MemoryRepository, MachineRepository):
    """Machines in process memory (development, tests, demos)."""
