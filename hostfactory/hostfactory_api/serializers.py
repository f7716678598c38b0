"""Host Factory input and output JSON. Liberal on input (a list or one object, unknown keys
ignored), strict on output (the response serializers document the exact shapes)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from hostfactory.api.fields import rule_field
from hostfactory.domain import TEMPLATE_ID
from machines_app.domain import MACHINE_FIELDS
from templates_app.serializers import TypedAttributesField

MAX_HOSTS = 10000
MAX_REQUEST_IDS = 1000


class OneOrManyField(serializers.ListField):
    """A list, or one object that stands for a list of one (some callers send that)."""

    def to_internal_value(self, data: Any) -> list:
        if isinstance(data, dict):
            data = [data]
        return super().to_internal_value(data)


# -- input -------------------------------------------------------------------------------


MAX_TEMPLATES_FILE_CHARS = 2_000_000


class TemplatesFileSerializer(serializers.Serializer):
    """The provider instance's conf-dir templates file, as the plugin read it."""

    name = serializers.CharField(max_length=255, help_text="Its file name, e.g. hfsvcprov_templates.json.")
    sha256 = serializers.RegexField(r"^[0-9a-f]{64}$", help_text="sha256 of its UTF-8 content, lower-case hex.")
    content = serializers.CharField(
        required=False,
        trim_whitespace=False,
        max_length=MAX_TEMPLATES_FILE_CHARS,
        help_text="The file's text; sent when the service answered 409 templates_file_unknown.",
    )


class GetAvailableTemplatesInputSerializer(serializers.Serializer):
    """Host Factory sends {}; our plugin adds the conf-dir templates file (its hash, then its
    content when the service asks), read only when HOSTFACTORY_TEMPLATES_SOURCE=hostfactory."""

    templatesFile = TemplatesFileSerializer(required=False)


class TemplateAskSerializer(serializers.Serializer):
    templateId = rule_field(TEMPLATE_ID, trim_whitespace=False)
    machineCount = serializers.IntegerField()


class RequestMachinesInputSerializer(serializers.Serializer):
    template = TemplateAskSerializer()


class HostSerializer(serializers.Serializer):
    """A host Host Factory holds: its cloud id and its host name (either may be missing)."""

    machineId = rule_field(MACHINE_FIELDS["machine_id"], required=False, allow_blank=True)
    name = rule_field(MACHINE_FIELDS["name"], required=False, allow_blank=True)

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("machineId") and not attrs.get("name"):
            raise serializers.ValidationError("each machine needs a machineId or a name")
        return attrs


class RequestReturnMachinesInputSerializer(serializers.Serializer):
    machines = OneOrManyField(child=HostSerializer(), max_length=MAX_HOSTS)


class GetReturnRequestsInputSerializer(serializers.Serializer):
    machines = OneOrManyField(child=HostSerializer(), max_length=MAX_HOSTS, required=False, default=list)


class RequestRefSerializer(serializers.Serializer):
    requestId = serializers.CharField(max_length=255, trim_whitespace=False)


class GetRequestStatusInputSerializer(serializers.Serializer):
    requests = OneOrManyField(child=RequestRefSerializer(), max_length=MAX_REQUEST_IDS)


# -- output (documentation of the shapes the services build) -----------------------------


class HFTemplateSerializer(serializers.Serializer):
    """Plus the template's provider settings (imageId, vmType, ...) at top level."""

    templateId = serializers.CharField()
    maxNumber = serializers.IntegerField(help_text="-1 for unlimited")
    availableNumber = serializers.IntegerField(required=False, help_text="Omitted when maxNumber is -1.")
    attributes = TypedAttributesField()
    priceType = serializers.CharField()


class GetAvailableTemplatesOutputSerializer(serializers.Serializer):
    message = serializers.CharField()
    templates = HFTemplateSerializer(many=True)


class RequestCreatedOutputSerializer(serializers.Serializer):
    requestId = serializers.CharField()
    message = serializers.CharField()


class HFMachineSerializer(serializers.Serializer):
    machineId = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    result = serializers.ChoiceField(choices=["succeed", "executing", "fail"])
    status = serializers.CharField(help_text="The cloud state: pending, running, stopping, ..., terminated.")
    privateIpAddress = serializers.CharField(allow_blank=True)
    publicIpAddress = serializers.CharField(allow_blank=True)
    instanceType = serializers.CharField(allow_blank=True)
    priceType = serializers.CharField(allow_blank=True)
    launchtime = serializers.IntegerField(help_text="Epoch seconds.")
    message = serializers.CharField(allow_blank=True, help_text="Non-empty when result is fail.")
    instanceTags = serializers.CharField(allow_blank=True, help_text='The instance\'s tags, "k=v;k2=v2", or "".')
    cloudHostId = serializers.CharField(allow_null=True, help_text="The cloud's id of the host (IBM sends null).")


class HFRequestSerializer(serializers.Serializer):
    requestId = serializers.CharField()
    status = serializers.ChoiceField(choices=["running", "complete", "complete_with_error"])
    message = serializers.CharField(allow_blank=True)
    machines = HFMachineSerializer(many=True)


class GetRequestStatusOutputSerializer(serializers.Serializer):
    requests = HFRequestSerializer(many=True)


class HFReturnSerializer(serializers.Serializer):
    machine = serializers.CharField(help_text="The host name.")
    machineId = serializers.CharField()
    gracePeriod = serializers.IntegerField(min_value=0, help_text="Seconds left before the host goes.")


class GetReturnRequestsOutputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["complete"])
    message = serializers.CharField()
    requests = HFReturnSerializer(many=True)


class HFErrorSerializer(serializers.Serializer):
    message = serializers.CharField()


class HFCodedErrorSerializer(HFErrorSerializer):
    code = serializers.CharField(help_text="templates_file_unknown: send the templates file's content.")
