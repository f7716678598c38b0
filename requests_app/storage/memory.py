from hostfactory.storage.memory import MemoryRepository
from requests_app.domain import Request, RequestType
from requests_app.repository import RequestRepository


class MemoryRequestRepository(MemoryRepository, RequestRepository):
    """Requests in process memory (development, tests, demos)."""

    def _add_machine(self, request_id: str, machine_id: str, active: tuple) -> Request | None:
        def takes_more(request: Request) -> bool:
            return (
                request.request_type == RequestType.ACQUIRE
                and request.status in active
                and machine_id not in request.machine_ids
                and len(request.machine_ids) < request.machine_count
            )

        with self._lock:
            current = self._items.get(request_id)
            if current is None or not takes_more(current):
                return None
            return self._update(current, machine_ids=(*current.machine_ids, machine_id))[1]

    def _remove_machine(self, request_id: str, machine_id: str) -> Request | None:
        with self._lock:
            current = self._items.get(request_id)
            if current is None or machine_id not in current.machine_ids:
                return None
            kept = tuple(i for i in current.machine_ids if i != machine_id)
            return self._update(current, machine_ids=kept)[1]

    def _adopt_hosts(self, request_id: str, machine_ids: list[str], active: tuple, held_at_most: int) -> Request | None:
        def is_active_return(request: Request) -> bool:
            return (
                request.request_type == RequestType.RETURN
                and request.status in active
                and len(request.machine_ids) <= held_at_most
            )

        with self._lock:
            current = self._items.get(request_id)
            if current is None or not is_active_return(current):
                return None
            adopted = set(machine_ids)
            others = tuple(i for i in current.other_hosts if i not in adopted)
            return self._update(current, machine_ids=(*current.machine_ids, *machine_ids), other_hosts=others)[1]
