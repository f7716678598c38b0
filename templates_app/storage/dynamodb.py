from datetime import datetime

from pynamodb.attributes import BooleanAttribute, MapAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import PynamoDBException
from pynamodb.models import Model

from hostfactory.domain import utcnow
from hostfactory.errors import InUse
from hostfactory.storage.dynamodb import (
    DynamoRepository,
    TrackedItem,
    is_condition_failure,
    pending_events_index,
    translated_errors,
)
from templates_app.domain import Reservation, Template, Usage
from templates_app.repository import TemplateRepository


class DynamoTemplateRepository(DynamoRepository, TemplateRepository):
    """Templates in DynamoDB: key ``template_id``, no index (a small table). Each template
    item also holds its capacity ledger (``used``, ``reservations``, ``ledger_seq``), so a
    reservation is one conditional write on the item that carries the limit."""

    table_key = "templates"

    @staticmethod
    def build_model(meta: type) -> type[Model]:
        class TemplateItem(TrackedItem):
            Meta = meta
            template_id = UnicodeAttribute(hash_key=True)
            max_number = NumberAttribute()
            attributes = MapAttribute(default=dict)
            provider_type = UnicodeAttribute()
            provider_api = UnicodeAttribute(null=True)
            price_type = UnicodeAttribute()
            provider_config = MapAttribute(default=dict)
            description = UnicodeAttribute(default="")
            enabled = BooleanAttribute()
            created_at = UTCDateTimeAttribute(null=True)
            updated_at = UTCDateTimeAttribute(null=True)
            version = NumberAttribute()
            # The ledger: never written by a template save.
            used = NumberAttribute(null=True)
            reservations = MapAttribute(null=True)
            ledger_seq = NumberAttribute(null=True)
            pending_index = pending_events_index()

        return TemplateItem

    def _search(self, prefix: str, limit: int) -> list[Template]:
        # A small table (one item per template): a filtered scan, as every template list is.
        with translated_errors(self.table_name, "Scan"):
            items = self.model.scan(self.model.template_id.startswith(prefix), consistent_read=True)
            return [self.from_item(item) for item in items if not item.hf_deleted]

    def created_values(self, entity: Template) -> dict:
        # The ledger starts empty; saves write the template's changed fields only, never it.
        return {"used": {"N": "0"}, "reservations": {"M": {}}, "ledger_seq": {"N": "0"}}

    def _remove(self, entity_id: str):
        model = self.model
        unused = model.used.does_not_exist() | (model.used <= 0)
        removed = self._delete_where(entity_id, model.template_id.exists() & unused)
        if removed is None:
            usage = self.usage(entity_id)
            if usage is not None and usage.used > 0:
                raise InUse(usage.in_use(entity_id))
        return removed

    def _with_usage(self, template_ids: list[str] | None) -> list[tuple[Template, Usage]]:
        with translated_errors(self.table_name, "Scan" if template_ids is None else "BatchGetItem"):
            if template_ids is None:
                items = list(self.model.scan(consistent_read=True))
            else:
                items = list(self.model.batch_get(template_ids, consistent_read=True))
        items = [item for item in items if not item.hf_deleted]
        return sorted(((self.from_item(item), _usage(item)) for item in items), key=lambda pair: pair[0].template_id)

    def _reserve(self, template: Template, request_id: str, count: int) -> bool:
        model = self.model
        slot = model.reservations[request_id]
        condition = (model.enabled == True) & (model.max_number == template.max_number)  # noqa: E712
        condition &= slot.does_not_exist()
        if not template.is_unlimited:
            condition &= model.used <= template.max_number - count
        reservation = {"count": count, "at": utcnow().isoformat()}
        return self._ledger_write(template.template_id, [model.used.add(count), slot.set(reservation)], condition)

    def _release_reservation(self, template_id: str, request_id: str, launched: int, reserved: int | None) -> bool:
        if reserved is not None and self._release_slot(template_id, request_id, max(0, reserved - launched), reserved):
            return True  # the usual case: one write, no read
        usage = self.usage(template_id)
        reservation = usage.reservations.get(request_id) if usage else None
        if reservation is None:
            return False
        return self._release_slot(template_id, request_id, max(0, reservation.count - launched), reservation.count)

    def _release_slot(self, template_id: str, request_id: str, freed: int, count: int) -> bool:
        # The condition on the slot itself makes the release happen once, whoever retries it.
        slot = self.model.reservations[request_id]
        return self._ledger_write(template_id, [self.model.used.add(-freed), slot.remove()], slot["count"] == count)

    def _add_usage(self, template_id: str, delta: int) -> bool:
        model = self.model
        condition = model.used >= -delta if delta < 0 else model.used.exists()
        return self._ledger_write(template_id, [model.used.add(delta)], condition)

    def _set_usage(self, template_id: str, usage: Usage, expected_seq: int) -> bool:
        model = self.model
        reservations = {key: {"count": r.count, "at": r.at.isoformat()} for key, r in usage.reservations.items()}
        actions = [model.used.set(usage.used), model.reservations.set(reservations)]
        seq = model.ledger_seq == expected_seq
        if expected_seq == 0:
            seq = model.ledger_seq.does_not_exist() | seq
        return self._ledger_write(template_id, actions, seq)

    def _ledger_write(self, template_id: str, actions: list, condition) -> bool:
        """One conditional UpdateItem of the ledger; the template's version does not move
        (an operator's edit never conflicts with capacity moving underneath it)."""
        model = self.model
        actions = [*actions, model.ledger_seq.add(1)]
        with translated_errors(self.table_name, "UpdateItem"):
            try:
                self.table.update_item(template_id, actions=actions, condition=self._live() & condition)
            except PynamoDBException as error:
                if is_condition_failure(error):
                    return False
                raise
        return True


def _usage(item: Model) -> Usage:
    values = item.attribute_values
    reservations = values.get("reservations")
    reservations = reservations.as_dict() if isinstance(reservations, MapAttribute) else dict(reservations or {})
    return Usage(
        used=int(values.get("used") or 0),
        reservations={
            key: Reservation(count=int(value["count"]), at=datetime.fromisoformat(value["at"]))
            for key, value in reservations.items()
        },
        seq=int(values.get("ledger_seq") or 0),
    )
