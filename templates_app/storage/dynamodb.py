from pynamodb.attributes import BooleanAttribute, MapAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from hostfactory.storage.dynamodb import DynamoRepository
from hostfactory.storage.dynamodb_indexes import hash_index
from templates_app.repository import TemplateRepository


class DynamoTemplateRepository(DynamoRepository, TemplateRepository):
    """Templates in DynamoDB: key ``template_id``; index on ``provider_type``."""

    table_key = "templates"

    @staticmethod
    def build_model(meta: type) -> type[Model]:
        class TemplateItem(Model):
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
            provider_type_index = hash_index("provider_type")

        return TemplateItem
