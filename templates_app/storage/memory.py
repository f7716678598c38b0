from hostfactory.domain import utcnow
from hostfactory.errors import InUse
from hostfactory.storage.memory import MemoryRepository
from templates_app.domain import Reservation, Template, Usage
from templates_app.repository import TemplateRepository


class MemoryTemplateRepository(MemoryRepository, TemplateRepository):
    """Templates in process memory (development, tests, demos), each with its ledger; every
    ledger change happens under the store's one lock."""

    def __init__(self, lock=None, history=None) -> None:
        super().__init__(lock, history)
        self._usage: dict[str, Usage] = {}

    def _with_usage(self, template_ids: list[str] | None) -> list[tuple[Template, Usage]]:
        with self._lock:
            ids = self._order if template_ids is None else [i for i in template_ids if i in self._items]
            return [(self._get(i), self._usage.get(i, Usage())) for i in list(ids)]

    def _reserve(self, template: Template, request_id: str, count: int) -> bool:
        with self._lock:
            stored = self._items.get(template.template_id)
            usage = self._usage.get(template.template_id, Usage())
            if stored is None or not stored.enabled or stored.max_number != template.max_number:
                return False
            if request_id in usage.reservations:
                return False
            if not stored.is_unlimited and usage.used + count > stored.max_number:
                return False
            reservation = Reservation(count=count, at=utcnow())
            self._write(
                template.template_id, usage, usage.used + count, {**usage.reservations, request_id: reservation}
            )
            return True

    def _release_reservation(self, template_id: str, request_id: str, launched: int, reserved: int | None) -> bool:
        with self._lock:
            usage = self._usage.get(template_id)
            if usage is None or request_id not in usage.reservations:
                return False
            reservations = dict(usage.reservations)
            freed = max(0, reservations.pop(request_id).count - launched)
            self._write(template_id, usage, usage.used - freed, reservations)
            return True

    def _add_usage(self, template_id: str, delta: int) -> bool:
        with self._lock:
            usage = self._usage.get(template_id, Usage())
            if template_id not in self._items or usage.used + delta < 0:
                return False
            self._write(template_id, usage, usage.used + delta, usage.reservations)
            return True

    def _set_usage(self, template_id: str, usage: Usage, expected_seq: int) -> bool:
        with self._lock:
            current = self._usage.get(template_id, Usage())
            if template_id not in self._items or current.seq != expected_seq:
                return False
            self._write(template_id, current, usage.used, usage.reservations)
            return True

    def _write(self, template_id: str, current: Usage, used: int, reservations: dict[str, Reservation]) -> None:
        self._usage[template_id] = Usage(used=used, reservations=dict(reservations), seq=current.seq + 1)

    def _remove(self, entity_id: str):
        with self._lock:
            usage = self._usage.get(entity_id, Usage())
            if entity_id in self._items and usage.used > 0:
                raise InUse(usage.in_use(entity_id))
            self._usage.pop(entity_id, None)
            return super()._remove(entity_id)

    def clear(self) -> None:
        with self._lock:
            super().clear()
            self._usage.clear()
