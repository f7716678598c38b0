from collections.abc import Iterator

from hostfactory.domain import utcnow
from hostfactory.storage.memory import MemoryRepository, _index_key, detached
from machines_app.domain import Machine, MachineStatus
from machines_app.repository import MachineRepository


class MemoryMachineRepository(MemoryRepository, MachineRepository):
    """Machines in process memory (development, tests, demos)."""

    def _by_names(self, names: list[str]) -> dict[str, list[Machine]]:
        # The store's own exact map of names (under the lock), as DynamoDB's name items are
        # exact: never the lagging index view a test double may put behind ``_find``.
        with self._lock:
            ids = {name: sorted(self._indexes["name"].get(_index_key(name), ())) for name in names}
            found = {name: [detached(self._items[i]) for i in found if i in self._items] for name, found in ids.items()}
        return {name: machines for name, machines in found.items() if machines}

    def _claim(self, machine_id: str, return_request_id: str, void_claims: frozenset) -> Machine | None:
        def claimable(machine: Machine) -> bool:
            return machine.is_live and (machine.return_request_id is None or machine.return_request_id in void_claims)

        moved = self._update_where(machine_id, claimable, return_request_id=return_request_id, updated_at=utcnow())
        return moved[1] if moved else None

    def _unclaim(self, machine_id: str, return_request_id: str) -> Machine | None:
        def held(machine: Machine) -> bool:
            return machine.return_request_id == return_request_id

        moved = self._update_where(machine_id, held, return_request_id=None, updated_at=utcnow())
        return moved[1] if moved else None

    def _iter_status(self, status: MachineStatus, page_size: int) -> Iterator[Machine]:
        for machine, _position in self._iter(self.filter_spec.parse({"status": status.value}), None, page_size):
            yield machine
