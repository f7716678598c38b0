from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from hostfactory.storage.dynamodb import DynamoRepository
from hostfactory.storage.dynamodb_indexes import hash_index
from requests_app.repository import RequestRepository


class DynamoRequestRepository(DynamoRepository, RequestRepository):
    """Requests in DynamoDB: key ``request_id``; index on ``status`` + ``created_at``."""

    table_key = "requests"

    @staticmethod
    def build_model(meta: type) -> type[Model]:
        class RequestItem(Model):
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
            created_at = UTCDateTimeAttribute(null=True)
            updated_at = UTCDateTimeAttribute(null=True)
            version = NumberAttribute()
            status_index = hash_index("status", range_field="created_at")

        return RequestItem
