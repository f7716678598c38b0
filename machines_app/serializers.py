"""Machine JSON of the REST API: the aggregate's fields, snake_case."""

from __future__ import annotations

from rest_framework import serializers

from hostfactory.api.fields import filter_serializer, rule_field
from machines_app.domain import MACHINE_FIELDS, MachineStatus
from machines_app.filters import MACHINE_FILTERS

MAX_LOOKUP_IDS = 1000
SAME = "May be repeated, never changed."


class MachineSerializer(serializers.Serializer):
    """Output, and the body of a register (POST) by a provisioner."""

    machine_id = rule_field(MACHINE_FIELDS["machine_id"], trim_whitespace=False, help_text="The cloud instance id.")
    request_id = rule_field(
        MACHINE_FIELDS["request_id"], trim_whitespace=False, help_text="The acquire request req-..."
    )
    template_id = rule_field(MACHINE_FIELDS["template_id"], trim_whitespace=False, help_text="The request's template.")
    name = rule_field(MACHINE_FIELDS["name"], required=False, allow_blank=True, default="")
    return_request_id = serializers.CharField(read_only=True, allow_null=True)
    status = rule_field(MACHINE_FIELDS["status"], required=False, default=MachineStatus.PENDING.value)
    status_reason = rule_field(MACHINE_FIELDS["status_reason"], required=False, allow_blank=True, default="")
    private_ip_address = rule_field(MACHINE_FIELDS["private_ip_address"], required=False, allow_null=True, default=None)
    public_ip_address = rule_field(MACHINE_FIELDS["public_ip_address"], required=False, allow_null=True, default=None)
    instance_type = rule_field(MACHINE_FIELDS["instance_type"], required=False, allow_null=True, default=None)
    price_type = rule_field(MACHINE_FIELDS["price_type"], required=False, allow_null=True, default=None)
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

    status = rule_field(MACHINE_FIELDS["status"])
    status_reason = rule_field(MACHINE_FIELDS["status_reason"], required=False, allow_blank=True, allow_null=True)
    private_ip_address = rule_field(MACHINE_FIELDS["private_ip_address"], required=False, allow_null=True)
    public_ip_address = rule_field(MACHINE_FIELDS["public_ip_address"], required=False, allow_null=True)
    name = rule_field(MACHINE_FIELDS["name"], required=False, allow_blank=True, allow_null=True)
    instance_type = rule_field(MACHINE_FIELDS["instance_type"], required=False, allow_null=True)
    launch_time = serializers.DateTimeField(required=False, allow_null=True)


class MachineLookupSerializer(serializers.Serializer):
    instance_ids = serializers.ListField(
        child=rule_field(MACHINE_FIELDS["machine_id"], trim_whitespace=False), max_length=MAX_LOOKUP_IDS
    )


MachineFilterSerializer = filter_serializer("MachineFilterSerializer", MACHINE_FILTERS)


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
