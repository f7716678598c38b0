"""Move a deployment from the v1 tables to the v2 layout (docs/storage-design.md), in place.

The tables keep their names; what changes is their indexes and a few derived attributes.
Every step first looks at what is already there and does only what is missing, so a run
interrupted at any point is completed by the next one, and a run on v2 tables changes
nothing. Order, chosen so that a v1 deployment still works until the last step (v1 code
ignores the attributes v2 adds), which makes an aborted migration a rollback-free event:

1. ``tables``: create a table that does not exist, in the v2 layout;
2. ``indexes``: add each v2 index the table lacks (UpdateTable, one at a time, each waited
   for until ACTIVE). A server that accepts the call but does not build the index
   (dynalite: it ignores ``GlobalSecondaryIndexUpdates`` Create and Delete) gets the table
   rebuilt instead: copied to ``<table>-v1-backup``, recreated in the v2 layout, copied back;
3. ``machines``: ``status_shard`` on every machine (the v2 repository's derivation), each
   write conditional on the status it was derived from;
4. ``requests``: ``machine_ids`` on every request, from the machines' ``request_id`` and
   ``return_request_id`` (read in step 3's consistent scan); only ADDs, never a removal;
5. ``ledger``: every template's capacity ledger, recounted from the truth
   (``capacity_recount``), then the ledger attributes set to zero where still missing;
6. ``old indexes``: delete the v1 indexes, one at a time, each waited for until gone.

Run it with the service stopped (API, provision, sync_machines): v1 code writing machines
meanwhile would leave them without ``status_shard``; a rerun fixes what it finds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.indexes import GlobalSecondaryIndex

from hostfactory.errors import StorageUnavailable
from hostfactory.fleet.capacity import capacity_recount
from hostfactory.storage import Repositories
from hostfactory.storage.dynamodb import (
    CONNECT_TIMEOUT_SECONDS,
    TABLE_WAIT_SECONDS,
    DynamoRepository,
    error_code,
    search_shard,
    unavailable,
)
from machines_app.storage.dynamodb import is_name_item, name_key, status_shard

# The first design's indexes (all whole-item projections), none of which v2 keeps.
V1_INDEXES = {
    "templates": ("provider_type-index",),
    "requests": ("status-index",),
    "machines": ("request_id-index", "return_request_id-index", "status-index", "name-index"),
}
# Building an index on a big table backfills every item: allow an hour.
INDEX_WAIT_SECONDS = 3600
READ_TIMEOUT_SECONDS = 10
BATCH_WRITE_LIMIT = 25
BACKUP_SUFFIX = "-v1-backup"
LEDGER_DEFAULTS = {"used": {"N": "0"}, "reservations": {"M": {}}, "ledger_seq": {"N": "0"}}

Progress = Callable[[int, int], None]


@dataclass
class StepReport:
    name: str
    changed: int = 0
    what: str = "changed"
    lines: list[str] = field(default_factory=list)

    def describe(self, dry_run: bool) -> str:
        return f"{self.name}: {self.changed} {'would be ' if dry_run else ''}{self.what}"


@dataclass
class MigrationReport:
    steps: list[StepReport] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(step.changed for step in self.steps)


def dynamodb_client(repos: Repositories) -> Any:
    """A boto3 DynamoDB client for the configured endpoint (botocore's credential chain)."""
    config = repos.templates.config
    return boto3.client(
        "dynamodb",
        region_name=config.region,
        endpoint_url=config.host,
        config=Config(
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
            retries={"max_attempts": 5, "mode": "standard"},
        ),
    )


class Migration:
    """One run of the migration; ``after_step`` is called with each finished step (tests
    use it to interrupt a run)."""

    def __init__(
        self,
        repos: Repositories,
        *,
        dry_run: bool = False,
        client: Any = None,
        progress: Callable[[str], Progress] | None = None,
        after_step: Callable[[StepReport], None] | None = None,
    ) -> None:
        self.repos = repos
        self.dry_run = dry_run
        self.client = client or dynamodb_client(repos)
        self.progress = progress or (lambda label: lambda done, total: None)
        self.after_step = after_step or (lambda step: None)
        # Step 3 reads every machine; step 4 needs only who points at which request.
        self.machines_of: dict[str, set[str]] = {}
        self.converting = False  # an earlier step changed (or, dry, would change) something

    def run(self) -> MigrationReport:
        report = MigrationReport()
        steps = {
            "tables": self.tables,
            "indexes": self.indexes,
            "machines": self.machines,
            "requests": self.requests,
            "ledger": self.ledger,
            "old indexes": self.old_indexes,
        }
        for name, step in steps.items():
            try:
                done = step()
            except (BotoCoreError, ClientError) as error:
                reason = unavailable(error, name, "migrate_storage")
                raise StorageUnavailable(f"{reason}; the steps before it are done: run it again") from error
            report.steps.append(done)
            self.converting = self.converting or (done.changed > 0 and name != "ledger")
            self.after_step(done)
        return report

    # -- 1. tables --------------------------------------------------------------------

    def tables(self) -> StepReport:
        step = StepReport("tables", what="created")
        for repo in self.repos.tables():
            if self.describe(repo.table_name) is None:
                step.changed += 1
                step.lines.append(f"create table {repo.table_name}")
                if not self.dry_run:
                    repo.create_table(wait=True)
        return step

    # -- 2. indexes -------------------------------------------------------------------

    def indexes(self) -> StepReport:
        step = StepReport("indexes", what="created (a table rebuilt counts once)")
        for repo in self.repos.all():  # the history table is new: created whole in step 1
            if self.describe(backup_name(repo)) is not None:
                step.changed += self.rebuild(repo, step)  # an interrupted rebuild: finish it
                continue
            table = self.describe(repo.table_name)
            if table is None:  # dry run: step 1 would create it, indexes and all
                continue
            for spec, attributes in missing_indexes(repo, table):
                step.changed += 1
                step.lines.append(f"create index {spec['IndexName']} on {repo.table_name}")
                if self.dry_run:
                    continue
                if not self.create_index(repo, table, spec, attributes):
                    step.lines.append(f"{repo.table_name}: the server cannot add indexes; rebuilding the table")
                    self.rebuild(repo, step)
                    break
                table = self.describe(repo.table_name)
        return step

    def create_index(self, repo: DynamoRepository, table: dict, spec: dict, attributes: list[dict]) -> bool:
        """One UpdateTable adding one index, waited for until ACTIVE; False when the server
        cannot add indexes to a table (it answered but built nothing, or it asks an on-demand
        table's index for a provisioned throughput, as dynalite does)."""
        known = {a["AttributeName"]: a for a in table["AttributeDefinitions"]}
        known.update({a["AttributeName"]: a for a in attributes})
        throughput = provisioned_throughput(table)
        try:
            self.client.update_table(
                TableName=repo.table_name,
                AttributeDefinitions=list(known.values()),
                GlobalSecondaryIndexUpdates=[{"Create": {**spec, **throughput}}],
            )
        except ClientError as error:
            code, message = error_code(error)
            if not throughput and code == "ValidationException" and "provisionedThroughput" in (message or ""):
                return False
            raise
        if spec["IndexName"] not in index_statuses(self.describe(repo.table_name)):
            return False
        self.wait(repo.table_name, lambda statuses: statuses.get(spec["IndexName"]) == "ACTIVE")
        return True

    def rebuild(self, repo: DynamoRepository, step: StepReport) -> int:
        """Recreate the table in the v2 layout through a backup copy; resumable at any point:
        the original is deleted only once the backup holds every item."""
        if self.dry_run:
            step.lines.append(f"rebuild {repo.table_name} through {backup_name(repo)}")
            return 1
        backup = backup_name(repo)
        key = repo.entity_class.id_field
        if self.describe(backup) is None:
            self.client.create_table(
                TableName=backup,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            self.wait(backup, lambda statuses: True)
        table = self.describe(repo.table_name)
        if table is not None and outdated(repo, table):
            copied = self.copy(repo.table_name, backup)
            if self.count(backup) < copied:
                raise StorageUnavailable(f"the backup {backup!r} does not hold every item; run migrate_storage again")
            self.client.delete_table(TableName=repo.table_name)
            self.wait_gone(repo.table_name)
        repo.create_table(wait=True)
        restored = self.copy(backup, repo.table_name)
        self.client.delete_table(TableName=backup)
        self.wait_gone(backup)
        step.lines.append(f"rebuilt {repo.table_name} in the v2 layout ({restored} items)")
        return 1

    def copy(self, source: str, target: str) -> int:
        copied = 0
        for page in self.scan_pages(source):
            for start in range(0, len(page), BATCH_WRITE_LIMIT):
                self.batch_put(target, page[start : start + BATCH_WRITE_LIMIT])
            copied += len(page)
        return copied

    def batch_put(self, table: str, items: list[dict]) -> None:
        requests = {table: [{"PutRequest": {"Item": item}} for item in items]}
        pause = 0.05
        while requests:
            requests = self.client.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
            if requests:
                time.sleep(pause)
                pause = min(pause * 2, 2.0)

    def count(self, table: str) -> int:
        pages = self.client.get_paginator("scan").paginate(TableName=table, Select="COUNT", ConsistentRead=True)
        return sum(page["Count"] for page in pages)

    # -- 3. machines --------------------------------------------------------------------

    def machines(self) -> StepReport:
        step = StepReport("machines", what="given status_shard and search_shard")
        repo = self.repos.machines
        if self.describe(repo.table_name) is None:
            return step
        progress = self.progress("machines")
        seen, total = 0, self.item_count(repo.table_name)
        named = 0
        for page in self.scan_pages(repo.table_name):
            for item in page:
                if is_name_item(item):
                    continue
                machine_id, status = item["machine_id"]["S"], item["status"]["S"]
                if "name" in item and (self.dry_run or self.note_name(repo.table_name, item["name"]["S"], machine_id)):
                    named += 1
                for owner in ("request_id", "return_request_id"):
                    if owner in item:
                        self.machines_of.setdefault(item[owner]["S"], set()).add(machine_id)
                shard = status_shard(machine_id, status)
                if item.get("status_shard", {}).get("S") != shard or "search_shard" not in item:
                    if self.dry_run or self.set_shard(repo.table_name, machine_id, status, shard):
                        step.changed += 1
                    else:
                        step.lines.append(f"skipped machine {machine_id}: its status moved; run again")
            seen += len(page)
            progress(seen, max(seen, total))
        if named:
            step.lines.append(f"{'would give' if self.dry_run else 'gave'} {named} host names their name item")
        return step

    def note_name(self, table: str, name: str, machine_id: str) -> bool:
        """The host name's item names the machine (machines_app.storage.dynamodb); False when
        it did already (a rerun)."""
        return self.update_if(
            TableName=table,
            Key={"machine_id": {"S": name_key(name)}},
            UpdateExpression="ADD named :id",
            ConditionExpression="NOT contains(named, :one)",
            ExpressionAttributeValues={":id": {"SS": [machine_id]}, ":one": {"S": machine_id}},
        )

    def set_shard(self, table: str, machine_id: str, status: str, shard: str) -> bool:
        return self.update_if(
            TableName=table,
            Key={"machine_id": {"S": machine_id}},
            UpdateExpression="SET status_shard = :shard, search_shard = :search",
            ConditionExpression="#status = :status",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":shard": {"S": shard},
                ":status": {"S": status},
                ":search": {"S": search_shard(machine_id)},
            },
        )

    # -- 4. requests ------------------------------------------------------------------

    def requests(self) -> StepReport:
        step = StepReport("requests", what="given machine_ids and search_shard")
        repo = self.repos.requests
        if self.describe(repo.table_name) is None:
            return step
        for page in self.scan_pages(repo.table_name):
            for item in page:
                request_id = item["request_id"]["S"]
                missing = self.machines_of.get(request_id, set()) - set(item.get("machine_ids", {}).get("SS", []))
                if not missing and "search_shard" in item:
                    continue
                step.changed += 1
                if self.dry_run:
                    continue
                values = {":search": {"S": search_shard(request_id)}}
                update = "SET search_shard = :search"
                if missing:
                    update += " ADD machine_ids :ids"
                    values[":ids"] = {"SS": sorted(missing)}
                self.client.update_item(
                    TableName=repo.table_name,
                    Key={"request_id": {"S": request_id}},
                    UpdateExpression=update,
                    ConditionExpression="attribute_exists(request_id)",
                    ExpressionAttributeValues=values,
                )
        return step

    # -- 5. ledger --------------------------------------------------------------------

    def ledger(self) -> StepReport:
        step = StepReport("ledger", what="recounted or initialised")
        repo = self.repos.templates
        if self.describe(repo.table_name) is None:
            return step
        if self.dry_run and self.converting:
            # The recount needs the converted requests (machine_ids): it runs after them.
            step.lines.append("recount: after the conversion (not previewed)")
        else:
            differences = capacity_recount(repos=self.repos, dry_run=self.dry_run)
            step.lines += [f"recount {difference.describe()}" for difference in differences]
            step.changed += len(differences)
        for page in self.scan_pages(repo.table_name):
            for item in page:
                if set(LEDGER_DEFAULTS) <= set(item):
                    continue
                if self.dry_run or self.init_ledger(repo.table_name, item["template_id"]["S"]):
                    step.changed += 1
        return step

    def init_ledger(self, table: str, template_id: str) -> bool:
        defaults = ", ".join(f"#{key} = if_not_exists(#{key}, :{key})" for key in LEDGER_DEFAULTS)
        missing = " OR ".join(f"attribute_not_exists(#{key})" for key in LEDGER_DEFAULTS)
        return self.update_if(
            TableName=table,
            Key={"template_id": {"S": template_id}},
            UpdateExpression=f"SET {defaults}",
            ConditionExpression=f"attribute_exists(template_id) AND ({missing})",
            ExpressionAttributeNames={f"#{key}": key for key in LEDGER_DEFAULTS},
            ExpressionAttributeValues={f":{key}": value for key, value in LEDGER_DEFAULTS.items()},
        )

    # -- 6. old indexes ---------------------------------------------------------------

    def old_indexes(self) -> StepReport:
        step = StepReport("old indexes", what="deleted (a table rebuilt counts once)")
        for repo in self.repos.all():
            table = self.describe(repo.table_name)
            if table is None:
                continue
            for name in V1_INDEXES[repo.table_key]:
                if name not in index_statuses(table):
                    continue
                step.changed += 1
                step.lines.append(f"delete index {name} on {repo.table_name}")
                if not self.dry_run and not self.delete_index(repo, name):
                    step.lines.append(f"{repo.table_name}: the server cannot delete indexes; rebuilding the table")
                    self.rebuild(repo, step)
                    break
        return step

    def delete_index(self, repo: DynamoRepository, name: str) -> bool:
        """One UpdateTable deleting one index, waited for until it is gone; False when the
        server answered but kept the index as it was (dynalite)."""
        delete = [{"Delete": {"IndexName": name}}]
        self.client.update_table(TableName=repo.table_name, GlobalSecondaryIndexUpdates=delete)
        if index_statuses(self.describe(repo.table_name)).get(name) == "ACTIVE":
            return False
        self.wait(repo.table_name, lambda statuses: name not in statuses)
        return True

    # -- DynamoDB helpers -------------------------------------------------------------

    def describe(self, table: str) -> dict | None:
        try:
            return self.client.describe_table(TableName=table)["Table"]
        except ClientError as error:
            if error_code(error)[0] == "ResourceNotFoundException":
                return None
            raise

    def item_count(self, table: str) -> int:
        """DynamoDB's item count (refreshed about every six hours): a progress total only."""
        return int((self.describe(table) or {}).get("ItemCount", 0))

    def scan_pages(self, table: str) -> Iterator[list[dict]]:
        for page in self.client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            yield page.get("Items", [])

    def update_if(self, **update: Any) -> bool:
        """One conditional UpdateItem; False when its condition failed."""
        try:
            self.client.update_item(**update)
        except ClientError as error:
            if error_code(error)[0] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def wait(self, table: str, ready: Callable[[dict[str, str]], bool]) -> None:
        """Until the table is ACTIVE, no index is changing, and ``ready(index statuses)``."""

        def done() -> bool:
            described = self.describe(table) or {}
            statuses = index_statuses(described)
            return described.get("TableStatus") == "ACTIVE" and ready(statuses) and not _busy(statuses)

        poll(done, INDEX_WAIT_SECONDS, f"DynamoDB table {table!r} is still changing")

    def wait_gone(self, table: str) -> None:
        poll(lambda: self.describe(table) is None, TABLE_WAIT_SECONDS, f"DynamoDB table {table!r} is still there")


def poll(done: Callable[[], bool], timeout: float, failure: str) -> None:
    """Call ``done`` until it is true (50 ms at first, backing off to 5 s), or fail after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = 0.05
    while not done():
        if time.monotonic() > deadline:
            raise StorageUnavailable(f"{failure} after {timeout:.0f} s; run migrate_storage again later")
        time.sleep(pause)
        pause = min(pause * 2, 5.0)


def backup_name(repo: DynamoRepository) -> str:
    return f"{repo.table_name}{BACKUP_SUFFIX}"


def index_statuses(table: dict | None) -> dict[str, str]:
    return {
        index["IndexName"]: index.get("IndexStatus", "ACTIVE")
        for index in (table or {}).get("GlobalSecondaryIndexes", [])
    }


def outdated(repo: DynamoRepository, table: dict) -> bool:
    """The table lacks a v2 index or still has a v1 one."""
    present = index_statuses(table)
    old = any(name in present for name in V1_INDEXES[repo.table_key])
    return old or any(True for _ in missing_indexes(repo, table))


def provisioned_throughput(table: dict) -> dict:
    """A new index of a provisioned table gets the table's throughput; an on-demand one none."""
    if table.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST":
        return {}
    current = table.get("ProvisionedThroughput", {})
    units = {key: max(1, int(current.get(key) or 1)) for key in ("ReadCapacityUnits", "WriteCapacityUnits")}
    return {"ProvisionedThroughput": units}


def _busy(statuses: dict[str, str]) -> bool:
    return any(status in ("CREATING", "UPDATING", "DELETING") for status in statuses.values())


def missing_indexes(repo: DynamoRepository, table: dict) -> Iterator[tuple[dict, list[dict]]]:
    """The v2 indexes the table lacks: each as an UpdateTable ``Create`` and the attribute
    definitions of its keys."""
    present = index_statuses(table)
    for index in model_indexes(repo):
        meta = index.Meta
        if meta.index_name in present:
            continue
        keys = sorted(
            (attribute for attribute in meta.attributes.values() if attribute.is_hash_key or attribute.is_range_key),
            key=lambda attribute: not attribute.is_hash_key,
        )
        projection = {"ProjectionType": meta.projection.projection_type}
        if getattr(meta.projection, "non_key_attributes", None):
            projection["NonKeyAttributes"] = list(meta.projection.non_key_attributes)
        spec = {
            "IndexName": meta.index_name,
            "KeySchema": [
                {"AttributeName": a.attr_name, "KeyType": "HASH" if a.is_hash_key else "RANGE"} for a in keys
            ],
            "Projection": projection,
        }
        yield spec, [{"AttributeName": a.attr_name, "AttributeType": a.attr_type} for a in keys]


def model_indexes(repo: DynamoRepository) -> list[GlobalSecondaryIndex]:
    """The global secondary indexes the v2 model declares."""
    found = (getattr(repo.model, name) for name in dir(repo.model))
    return sorted(
        (value for value in found if isinstance(value, GlobalSecondaryIndex)), key=lambda index: index.Meta.index_name
    )
