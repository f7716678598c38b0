"""Request JSON of the REST API: the aggregate's fields, snake_case."""

from __future__ import annotations

from rest_framework import serializers

from hostfactory.api.fields import filter_serializer, rule_field
from requests_app.domain import MAX_MACHINES, REQUEST_FIELDS
from requests_app.filters import REQUEST_FILTERS

SAME = "May be repeated, never changed."


class RequestSerializer(serializers.Serializer):
    """Output: every field of the aggregate."""

    request_id = serializers.CharField(read_only=True, help_text="req-<uuid4> (acquire) or ret-<uuid4> (return)")
    request_type = rule_field(REQUEST_FIELDS["request_type"], read_only=True)
    template_id = serializers.CharField(read_only=True, allow_null=True)
    machine_count = serializers.IntegerField(read_only=True)
    status = rule_field(REQUEST_FIELDS["status"], read_only=True)
    message = serializers.CharField(read_only=True)
    requested_by = serializers.CharField(read_only=True)
    deadline = serializers.DateTimeField(read_only=True, allow_null=True)
    completed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    provider_data = serializers.DictField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    version = serializers.IntegerField(read_only=True)


class RequestCreateSerializer(serializers.Serializer):
    """POST /requests/: an acquire request (return requests come from requestReturnMachines)."""

    template_id = rule_field(REQUEST_FIELDS["template_id"], trim_whitespace=False)
    machine_count = serializers.IntegerField(help_text=f"1..{MAX_MACHINES}, at most the template's availableNumber")


class RequestMessageSerializer(serializers.Serializer):
    """PATCH /requests/{id}/: the message shown to Host Factory."""

    request_id = serializers.CharField(required=False, trim_whitespace=False, help_text=SAME)
    message = rule_field(REQUEST_FIELDS["message"], allow_blank=True)
    version = serializers.IntegerField(help_text="The version you read; a stale one is a 409.")


class RequestStatusSerializer(serializers.Serializer):
    """POST /requests/{id}/status/: one move of the transition table."""

    status = rule_field(REQUEST_FIELDS["status"])
    message = rule_field(REQUEST_FIELDS["message"], required=False, allow_blank=True, allow_null=True)


RequestFilterSerializer = filter_serializer("RequestFilterSerializer", REQUEST_FILTERS)
