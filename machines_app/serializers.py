"""Machine JSON of the REST API: the aggregate's fields, snake_case."""

from __future__ import annotations

from rest_framework import serializers

from hostfactory.api.viewsets import PageQuerySerializer
from machines_app.domain import MACHINE_PRICE_TYPES, MachineStatus

STATUSES = [status.value for status in MachineStatus]
MAX_LOOKUP_IDS = 1000
SAME = "May be repeated, never changed."


class MachineSerializer(serializers.Serializer):
    """Output, and the body of a register (POST) by a provisioner."""

    machine_id = serializers.CharField(max_length=255, trim_whitespace=False, help_text="The cloud instance id.")
    request_id = serializers.CharField(max_length=64, trim_whitespace=False, help_text="The acquire request req-...")
    template_id = serializers.CharField(max_length=64, trim_whitespace=False, help_text="The request's template.")
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    return_request_id = serializers.CharField(read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=STATUSES, required=False, default=MachineStatus.PENDING.value)
    status_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=4096)
    private_ip_address = serializers.CharField(required=False, allow_null=True, default=None, max_length=64)
    public_ip_address = serializers.CharField(required=False, allow_null=True, default=None, max_length=64)
    instance_type = serializers.CharField(required=False, allow_null=True, default=None, max_length=64)
    price_type = serializers.ChoiceField(choices=MACHINE_PRICE_TYPES, required=False, allow_null=True, default=None)
    launch_time = serializers.DateTimeField(required=False, allow_null=True, default=None)
    tags = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict)
    reclaim_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    version = serializers.IntegerField(read_only=True)


class MachineUpdateSerializer(MachineSerializer):
    """PUT (every field; omitted ones take their defaults) and PATCH (only those sent)."""

    machine_id = serializers.CharField(required=False, trim_whitespace=False, help_text=SAME)
    request_id = serializers.CharField(required=False, trim_whitespace=False, help_text=SAME)
    template_id = serializers.CharField(required=False, trim_whitespace=False, help_text=SAME)
    version = serializers.IntegerField(help_text="The version you read; a stale one is a 409.")


class MachineStatusSerializer(serializers.Serializer):
    """POST /machines/{id}/status/: a provisioner's status report."""

    status = serializers.ChoiceField(choices=STATUSES)
    status_reason = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=4096)
    private_ip_address = serializers.CharField(required=False, allow_null=True, max_length=64)
    public_ip_address = serializers.CharField(required=False, allow_null=True, max_length=64)
    name = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    instance_type = serializers.CharField(required=False, allow_null=True, max_length=64)
    launch_time = serializers.DateTimeField(required=False, allow_null=True)


class MachineLookupSerializer(serializers.Serializer):
    instance_ids = serializers.ListField(
        child=serializers.CharField(max_length=255, trim_whitespace=False), max_length=MAX_LOOKUP_IDS
    )


class MachineFilterSerializer(PageQuerySerializer):
    status = serializers.ChoiceField(choices=STATUSES, required=False)
    request_id = serializers.CharField(required=False, max_length=64)
    return_request_id = serializers.CharField(required=False, max_length=64)
    template_id = serializers.CharField(required=False, max_length=64)
    name = serializers.CharField(required=False, max_length=255)


MAX_GRACE_PERIOD = 7 * 24 * 3600


class MachineReclaimSerializer(serializers.Serializer):
    """POST /machines/{id}/reclaim/: a provisioner's notice that the cloud takes the host back."""

    grace_period = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_GRACE_PERIOD, help_text="Seconds from now (0..604800)."
    )
    reclaim_at = serializers.DateTimeField(required=False, help_text="When the host goes (ISO 8601).")

    def validate(self, attrs: dict) -> dict:
        if ("grace_period" in attrs) == ("reclaim_at" in attrs):
            raise serializers.ValidationError("give exactly one of grace_period (seconds) or reclaim_at (ISO 8601)")
        return attrs
