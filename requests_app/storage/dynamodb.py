from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.expressions.condition import size
from pynamodb.models import Model

from hostfactory.domain import utcnow
from hostfactory.storage import history
from hostfactory.storage.dynamodb import (
    DynamoRepository,
    TrackedItem,
    keys_index,
    pending_events_index,
    search_index,
    search_shard,
)
from requests_app.domain import Request, RequestType
from requests_app.repository import RequestRepository

STATUS_INDEX = "status-keys"


class DynamoRequestRepository(DynamoRepository, RequestRepository):
    """Requests in DynamoDB: key ``request_id``. A request item holds the ids of its machines
    (``machine_ids``, a string set), so a request and its machines are found with consistent
    reads, never through an index. One keys-only index, ``status`` + ``created_at``, finds the
    few active requests for the provisioner and the status filters of the lists."""

    table_key = "requests"
    keys_indexes = {"status": ("status_index", ("status", "created_at"))}

    @staticmethod
    def build_model(meta: type) -> type[Model]:
        class RequestItem(TrackedItem):
            Meta = meta
            request_id = UnicodeAttribute(hash_key=True)
            request_type = UnicodeAttribute()
            template_id = UnicodeAttribute(null=True)
            machine_count = NumberAttribute()
            status = UnicodeAttribute()
            message = UnicodeAttribute(default="")
            requested_by = UnicodeAttribute(default="")
            deadline = UTCDateTimeAttribute(null=True)
            completed_at = UTCDateTimeAttribute(null=True)
            provider_data = MapAttribute(default=dict)
            machine_ids = UnicodeSetAttribute(null=True)
            other_hosts = UnicodeSetAttribute(null=True)
            created_at = UTCDateTimeAttribute(null=True)
            updated_at = UTCDateTimeAttribute(null=True)
            version = NumberAttribute()
            status_index = keys_index("status", STATUS_INDEX, "created_at", UTCDateTimeAttribute(range_key=True))
            pending_index = pending_events_index()
            search_shard = UnicodeAttribute(null=True)
            id_search = search_index("request_id", "search-id")

        return RequestItem

    search_indexes = {"request_id": "id_search"}

    def derived(self, entity: Request) -> dict:
        return {"search_shard": search_shard(entity.request_id)}

    def _add_machine(self, request_id: str, machine_id: str, active: tuple) -> Request | None:
        model = self.model
        condition = (model.request_type == RequestType.ACQUIRE.value) & model.status.is_in(*(s.value for s in active))
        condition &= ~model.machine_ids.contains(machine_id)
        condition &= model.machine_ids.does_not_exist() | (size(model.machine_ids) < model.machine_count)
        actions = [model.machine_ids.add({machine_id}), model.updated_at.set(utcnow())]
        return self._update_returning_new(request_id, actions, condition, deltas={"machine_ids": [[], [machine_id]]})

    def _remove_machine(self, request_id: str, machine_id: str) -> Request | None:
        model = self.model
        actions = [model.machine_ids.delete({machine_id}), model.updated_at.set(utcnow())]
        held = model.machine_ids.contains(machine_id)
        return self._update_returning_new(request_id, actions, held, deltas={"machine_ids": [[machine_id], []]})

    def _adopt_hosts(self, request_id: str, machine_ids: list[str], active: tuple, held_at_most: int) -> Request | None:
        model = self.model
        condition = (model.request_type == RequestType.RETURN.value) & model.status.is_in(*(s.value for s in active))
        # Never past machine_count: it holds at most machine_count - len(ids) before.
        condition &= model.machine_ids.does_not_exist() | (size(model.machine_ids) <= held_at_most)
        ids = set(machine_ids)
        actions = [model.machine_ids.add(ids), model.other_hosts.delete(ids), model.updated_at.set(utcnow())]
        moved = history.capped(sorted(ids))
        deltas = {"machine_ids": [[], moved], "other_hosts": [moved, []]}
        return self._update_returning_new(request_id, actions, condition, deltas=deltas)
