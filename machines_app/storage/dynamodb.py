import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from hostfactory.domain import utcnow
from hostfactory.storage.dynamodb import DynamoRepository, keys_index, translated_errors
from hostfactory.storage.filters import Condition, equality_values, matches
from machines_app.domain import LIVE_STATUSES, Machine, MachineStatus
from machines_app.repository import MachineRepository

# A status index keyed by status alone puts every running host under one partition key
# ("running": 100k entries, past one partition's throughput). Each status is split over
# 16 keys, "running#00" .. "running#15", by a hash of the machine id.
STATUS_SHARDS = 16
STATUS_SHARD_INDEX = "status-shard"


def status_shard(machine_id: str, status: MachineStatus | str) -> str:
    shard = zlib.crc32(machine_id.encode()) % STATUS_SHARDS
    return f"{MachineStatus(status).value}#{shard:02d}"


class StatusShardIndex(GlobalSecondaryIndex):
    """Whole machines by sharded status: a sync pass reads each live machine once, here."""

    class Meta:
        index_name = STATUS_SHARD_INDEX
        projection = AllProjection()

    status_shard = UnicodeAttribute(hash_key=True)
    machine_id = UnicodeAttribute(range_key=True)


class DynamoMachineRepository(DynamoRepository, MachineRepository):
    """Machines in DynamoDB: key ``machine_id``. Indexes: the sharded status index (whole
    items, for sync passes and status filters) and keys-only indexes on ``request_id``,
    ``return_request_id`` (sparse) and ``name`` (sparse), each written only when its key
    changes. Decisions never read them: a request names its machines (``machine_ids``)."""

    table_key = "machines"
    keys_indexes = {
        "request_id": ("request_id_index", ("request_id",)),
        "return_request_id": ("return_request_id_index", ("return_request_id",)),
        "name": ("name_index", ("name",)),
    }

    @staticmethod
    def build_model(meta: type) -> type[Model]:
        class MachineItem(Model):
            Meta = meta
            machine_id = UnicodeAttribute(hash_key=True)
            name = UnicodeAttribute(null=True)
            request_id = UnicodeAttribute()
            return_request_id = UnicodeAttribute(null=True)
            template_id = UnicodeAttribute()
            status = UnicodeAttribute()
            status_shard = UnicodeAttribute()
            status_reason = UnicodeAttribute(default="")
            private_ip_address = UnicodeAttribute(null=True)
            public_ip_address = UnicodeAttribute(null=True)
            instance_type = UnicodeAttribute(null=True)
            price_type = UnicodeAttribute(null=True)
            launch_time = UTCDateTimeAttribute(null=True)
            tags = MapAttribute(default=dict)
            reclaim_at = UTCDateTimeAttribute(null=True)
            created_at = UTCDateTimeAttribute(null=True)
            updated_at = UTCDateTimeAttribute(null=True)
            version = NumberAttribute()
            status_shard_index = StatusShardIndex()
            request_id_index = keys_index("request_id", "request-id-keys")
            return_request_id_index = keys_index("return_request_id", "return-request-id-keys")
            name_index = keys_index("name", "name-keys")

        return MachineItem

    def derived(self, entity: Machine) -> dict[str, Any]:
        return {"status_shard": status_shard(entity.machine_id, entity.status)}

    def derived_on_status(self, entity_id: str, target: MachineStatus) -> dict[str, Any]:
        return {"status_shard": status_shard(entity_id, target)}

    # -- the sharded status index -------------------------------------------------------

    def _iter(self, conditions: tuple[Condition, ...], start: Any, page_size: int | None = None):
        indexed = equality_values(conditions, self.indexed_fields)
        if indexed and indexed[0].field == "status":
            yield from self._iter_shards(MachineStatus(indexed[0].value), conditions, start, page_size)
            return
        yield from super()._iter(conditions, start, page_size)

    def _iter_shards(self, status: MachineStatus, conditions, start: Any, page_size: int | None):
        """Every shard in turn; a position is the shard and the index key within it. Each page
        is read again consistently, so an entry the index has not caught up with is dropped."""
        first_shard, key = (start["shard"], start["key"]) if isinstance(start, dict) else (0, None)
        for shard in range(first_shard, STATUS_SHARDS):
            for item, position in self._shard_pages(f"{status.value}#{shard:02d}", key, page_size):
                fresh = {m.id: m for m in self._get_many([i.machine_id for i in item])}
                for entry, entry_key in zip(item, position, strict=True):
                    machine = fresh.get(entry.machine_id)
                    if machine is not None and matches(machine, conditions):
                        yield machine, {"shard": shard, "key": entry_key}
            key = None

    def _shard_pages(self, shard_key: str, start: Any, page_size: int | None) -> Iterator[tuple[list, list]]:
        size = page_size or 100
        with translated_errors(self.table_name, "Query"):
            while True:
                results = self.model.status_shard_index.query(
                    shard_key, last_evaluated_key=start, limit=size, page_size=size
                )
                items = list(results)
                if items:
                    keys = [
                        {"status_shard": {"S": item.status_shard}, "machine_id": {"S": item.machine_id}}
                        for item in items
                    ]
                    yield items, keys
                start = results.last_evaluated_key
                if start is None:
                    return

    def _iter_status(self, status: MachineStatus, page_size: int) -> Iterator[Machine]:
        """Index items as they are (whole items): a sync pass reads each machine once and
        every write it makes is conditional on the stored status."""
        for shard in range(STATUS_SHARDS):
            for items, _keys in self._shard_pages(f"{status.value}#{shard:02d}", None, page_size):
                yield from (self.from_item(item) for item in items)

    def _find(self, field: str, values: Iterable[Any]) -> list[Machine]:
        if field != "status":
            return super()._find(field, values)
        return [m for value in values for m, _ in self._iter_shards(MachineStatus(value), (), None, None)]

    # -- claims ---------------------------------------------------------------------------

    def _claim(self, machine_id: str, return_request_id: str, void_claims: frozenset) -> Machine | None:
        model = self.model
        unclaimed = model.return_request_id.does_not_exist()
        if void_claims:
            unclaimed |= model.return_request_id.is_in(*sorted(void_claims))
        condition = model.status.is_in(*sorted(s.value for s in LIVE_STATUSES)) & unclaimed
        actions = [model.return_request_id.set(return_request_id), model.updated_at.set(utcnow())]
        return self._update_returning_new(machine_id, actions, condition)

    def _unclaim(self, machine_id: str, return_request_id: str) -> Machine | None:
        model = self.model
        actions = [model.return_request_id.remove(), model.updated_at.set(utcnow())]
        return self._update_returning_new(machine_id, actions, model.return_request_id == return_request_id)
