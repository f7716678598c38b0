import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from hostfactory.domain import utcnow
from hostfactory.storage.dynamodb import (
    DynamoRepository,
    TrackedItem,
    batch_read,
    keys_index,
    make_meta,
    pending_events_index,
    search_index,
    search_shard,
    translated_errors,
)
from hostfactory.storage.filters import Condition, equality_values, matches
from machines_app.domain import LIVE_STATUSES, Machine, MachineStatus
from machines_app.repository import MachineRepository

# A status index keyed by status alone puts every running host under one partition key
# ("running": 100k entries, past one partition's throughput). Each status is split over
# 16 keys, "running#00" .. "running#15", by a hash of the machine id.
STATUS_SHARDS = 16
STATUS_SHARD_INDEX = "status-shard"
# A host name's item in the machines table: key "name <host name>" (a machine id has no
# whitespace, so it can never be one), holding the ids of the machines that carried the name.
# Written before the machine write that sets the name, so every stored name has its item: a
# lookup by names is consistent batch reads by key, never an index query per name.
NAME_KEY_PREFIX = "name "


def name_key(name: str) -> str:
    return NAME_KEY_PREFIX + name


def is_name_item(raw: dict) -> bool:
    """A raw machines-table item that is a host name's item, not a machine."""
    return raw.get("machine_id", {}).get("S", "").startswith(NAME_KEY_PREFIX)


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
        class MachineItem(TrackedItem):
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
            pending_index = pending_events_index()
            search_shard = UnicodeAttribute(null=True)
            id_search = search_index("machine_id", "search-id")
            name_search = search_index("name", "search-name")
            ip_search = search_index("private_ip_address", "search-ip")

        return MachineItem

    def __init__(self, config, history_store=None) -> None:
        super().__init__(config, history_store)

        class NameItem(Model):
            Meta = make_meta(config, self.table_name)
            machine_id = UnicodeAttribute(hash_key=True)  # name_key(name)
            named = UnicodeSetAttribute()

        self.name_model = NameItem

    # -- host names -------------------------------------------------------------------------

    def _note_name(self, name: str | None, machine_id: str) -> None:
        if not name:
            return
        with translated_errors(self.table_name, "UpdateItem"):
            self.name_model(name_key(name)).update(actions=[self.name_model.named.add({machine_id})])

    def _put(self, entity: Machine, expected_version: int) -> None:
        self._note_name(entity.name, entity.machine_id)
        super()._put(entity, expected_version)

    def _set_status(self, entity_id, target, sources, changes, if_missing):
        self._note_name(changes.get("name"), entity_id)
        return super()._set_status(entity_id, target, sources, changes, if_missing)

    def scan_filter(self):
        return self.model.status.exists()  # machines only, not host names' items

    def _get(self, entity_id: str) -> Machine | None:
        return None if entity_id.startswith(NAME_KEY_PREFIX) else super()._get(entity_id)

    def _get_many(self, entity_ids: list[str]) -> list[Machine]:
        return super()._get_many([i for i in entity_ids if not i.startswith(NAME_KEY_PREFIX)])

    def _by_names(self, names: list[str]) -> dict[str, list[Machine]]:
        ids: dict[str, set[str]] = {}
        with translated_errors(self.table_name, "BatchGetItem"):
            for item in batch_read(self.name_model, [name_key(n) for n in names]):
                ids[item.machine_id.removeprefix(NAME_KEY_PREFIX)] = set(item.named or ())
        machines = {m.machine_id: m for m in self._get_many(sorted({i for found in ids.values() for i in found}))}
        found = {name: [machines[i] for i in sorted(held) if i in machines] for name, held in ids.items()}
        # The item keeps every id that carried the name: keep those that carry it now.
        found = {name: [m for m in candidates if m.name == name] for name, candidates in found.items()}
        return {name: candidates for name, candidates in found.items() if candidates}

    search_indexes = {"machine_id": "id_search", "name": "name_search", "private_ip_address": "ip_search"}

    def derived(self, entity: Machine) -> dict[str, Any]:
        return {
            "status_shard": status_shard(entity.machine_id, entity.status),
            "search_shard": search_shard(entity.machine_id),
        }

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
                yield from (self.from_item(item) for item in items if not item.hf_deleted)

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
        return self._update_returning_new(machine_id, actions, condition, copied=["return_request_id"])

    def _unclaim(self, machine_id: str, return_request_id: str) -> Machine | None:
        model = self.model
        actions = [model.return_request_id.remove(), model.updated_at.set(utcnow())]
        held = model.return_request_id == return_request_id
        return self._update_returning_new(machine_id, actions, held, copied=["return_request_id"])
