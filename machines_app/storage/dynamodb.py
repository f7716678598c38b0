from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from hostfactory.storage.dynamodb import DynamoRepository
from hostfactory.storage.dynamodb_indexes import hash_index
from machines_app.repository import MachineRepository


class DynamoMachineRepository(DynamoRepository, MachineRepository):
    """Machines in DynamoDB: key ``machine_id``; indexes on ``request_id``,
    ``return_request_id`` (sparse), ``status`` and ``name`` (sparse)."""

    table_key = "machines"

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
            request_id_index = hash_index("request_id")
            return_request_id_index = hash_index("return_request_id")
            status_index = hash_index("status")
            name_index = hash_index("name")

        return MachineItem
