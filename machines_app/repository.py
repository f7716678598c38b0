"""MachineRepository: the original design's machine finders over ``Repository``."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator

from hostfactory.domain import utcnow
from hostfactory.errors import InvalidFilter
from hostfactory.storage.base import Repository, async_twin, logged
from machines_app.domain import LIVE_STATUSES, MACHINE_TRANSITIONS, Machine, MachineStatus
from machines_app.filters import MACHINE_FILTERS

FAILED_REASON = "Marked failed."


class MachineRepository(Repository[Machine]):
    aggregate = "machine"
    entity_class = Machine
    filter_spec = MACHINE_FILTERS
    indexed_fields = ("request_id", "return_request_id", "status", "name")
    search_fields = ("machine_id", "name", "private_ip_address")
    status_machine = MACHINE_TRANSITIONS
    status_enum = MachineStatus

    @logged
    def get_by_request_id(self, request_id: str) -> list[Machine]:
        """Machines launched for the acquire request ``request_id``."""
        return self._find("request_id", [request_id])

    @logged
    def get_by_return_request_id(self, return_request_id: str) -> list[Machine]:
        """Machines given back by the return request ``return_request_id``."""
        return self._find("return_request_id", [return_request_id])

    @logged
    def get_by_name(self, name: str) -> list[Machine]:
        return self._find("name", [name]) if name else []

    @logged
    def get_by_names(self, names: list[str]) -> dict[str, list[Machine]]:
        """Machines by host name, for many names at once and consistently (a name Host Factory
        sends without a machineId): name -> the machines that carry it now (names are reused
        by the cloud, so there may be several); unknown names are left out."""
        wanted = sorted({name for name in names if name})
        return self._by_names(wanted) if wanted else {}

    @logged
    def get_by_status(self, status: MachineStatus | str) -> list[Machine]:
        return self._find("status", [self._parse_status(status)])

    @logged
    def get_by_instance_ids(self, instance_ids: list[str]) -> list[Machine]:
        """Machines by cloud instance id, in the order asked; unknown ids are skipped."""
        if not isinstance(instance_ids, list | tuple) or not all(isinstance(i, str) for i in instance_ids):
            raise InvalidFilter(f"instance_ids: must be a list of strings, got {instance_ids!r}")
        return self._get_many(list(dict.fromkeys(i for i in instance_ids if i)))

    @logged
    def update_status(
        self,
        machine_id: str,
        status: MachineStatus | str,
        status_reason: str | None = None,
        changes: dict | None = None,
    ) -> Machine | None:
        """Atomically move to ``status`` if the transition table allows it, with ``changes``
        (what a status report carries: name, IPs, launch time...) in the same write. The
        stored machine, or None when the id does not exist; InvalidTransition when the move
        is not allowed."""
        moved = self.transition(machine_id, status, status_reason, changes)
        return moved[1] if moved else None

    @logged
    def transition(
        self,
        machine_id: str,
        status: MachineStatus | str,
        status_reason: str | None = None,
        changes: dict | None = None,
    ) -> tuple[Machine, Machine] | None:
        """``update_status`` returning ``(before, after)`` from one write: the caller sees
        whether this very write ended (or revived) the machine."""
        target = self._parse_status(status)
        if target == MachineStatus.FAILED and not status_reason:
            status_reason = FAILED_REASON
        fields = {**(changes or {}), "updated_at": utcnow()}
        if status_reason is not None:
            fields["status_reason"] = status_reason
        return self._change_status(machine_id, target, fields, {})

    @logged
    def claim_for_return(
        self, machine_id: str, return_request_id: str, void_claims: frozenset = frozenset()
    ) -> Machine | None:
        """One conditional write: mark a live machine as being returned by
        ``return_request_id``, if no other return holds it (a claim by one of ``void_claims``,
        returns that were never written, counts as none). The claimed machine, or None."""
        return self._claim(machine_id, return_request_id, frozenset(void_claims))

    @logged
    def release_claim(self, machine_id: str, return_request_id: str) -> Machine | None:
        """Undo a claim, only if ``return_request_id`` still holds it (one conditional write)."""
        return self._unclaim(machine_id, return_request_id)

    @logged
    def get_live(self, page_size: int = 500) -> list[Machine]:
        """Every live machine, once, read in pages through the status index (sync passes);
        as the index has them (eventually consistent): every write made from them must be
        conditional on the stored status."""
        return [m for status in sorted(LIVE_STATUSES) for m in self._iter_status(MachineStatus(status), page_size)]

    aget_by_request_id = async_twin()
    aget_by_return_request_id = async_twin()
    aget_by_name = async_twin()
    aget_by_names = async_twin()
    aget_by_status = async_twin()
    aget_by_instance_ids = async_twin()
    aupdate_status = async_twin()
    atransition = async_twin()
    aclaim_for_return = async_twin()
    arelease_claim = async_twin()
    aget_live = async_twin()

    @abstractmethod
    def _by_names(self, names: list[str]) -> dict[str, list[Machine]]: ...

    @abstractmethod
    def _claim(self, machine_id: str, return_request_id: str, void_claims: frozenset) -> Machine | None: ...

    @abstractmethod
    def _unclaim(self, machine_id: str, return_request_id: str) -> Machine | None: ...

    @abstractmethod
    def _iter_status(self, status: MachineStatus, page_size: int) -> Iterator[Machine]: ...
