"""MachineRepository: the original design's machine finders over ``Repository``."""

from __future__ import annotations

from hostfactory.domain import utcnow
from hostfactory.errors import InvalidFilter
from hostfactory.storage.base import Repository, async_twin, logged
from machines_app.domain import MACHINE_TRANSITIONS, Machine, MachineStatus
from machines_app.filters import MACHINE_FILTERS

FAILED_REASON = "Marked failed."


class MachineRepository(Repository[Machine]):
    aggregate = "machine"
    entity_class = Machine
    filter_spec = MACHINE_FILTERS
    indexed_fields = ("request_id", "return_request_id", "status", "name")
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
    def get_by_status(self, status: MachineStatus | str) -> list[Machine]:
        return self._find("status", [self._parse_status(status)])

    @logged
    def get_by_instance_ids(self, instance_ids: list[str]) -> list[Machine]:
        """Machines by cloud instance id, in the order asked; unknown ids are skipped."""
        if not isinstance(instance_ids, list | tuple) or not all(isinstance(i, str) for i in instance_ids):
            raise InvalidFilter(f"instance_ids: must be a list of strings, got {instance_ids!r}")
        return self._get_many(list(dict.fromkeys(i for i in instance_ids if i)))

    @logged
    def update_status(self, machine_id: str, status: MachineStatus | str, status_reason: str | None = None) -> bool:
        """Atomically move to ``status`` if the transition table allows it.

        False when the id does not exist; InvalidTransition when the move is not allowed.
        """
        target = self._parse_status(status)
        if target == MachineStatus.FAILED and not status_reason:
            status_reason = FAILED_REASON
        changes = {"updated_at": utcnow()}
        if status_reason is not None:
            changes["status_reason"] = status_reason
        return self._change_status(machine_id, target, changes, {})

    aget_by_request_id = async_twin()
    aget_by_return_request_id = async_twin()
    aget_by_name = async_twin()
    aget_by_status = async_twin()
    aget_by_instance_ids = async_twin()
    aupdate_status = async_twin()
