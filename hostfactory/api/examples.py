"""Examples for the OpenAPI docs (/api/docs/): one small fleet, seen through every endpoint.

The Host Factory examples are the protocol's own samples (copies of them are in the
repository's tests/fixtures/hostfactory/, which the app never reads):

- ``IBM``: IBM's AWS provider traffic (IBM Spectrum Symphony 7.3.2), as quoted in
  awslabs/open-hostfactory-plugin ``hf_docs/input-output.md`` (Apache-2.0): the templates
  ``OnDemand-Minimal-Template-VM`` and ``Spot-Template-VM``, the request for 10 spot hosts,
  return request ``ret-84ffbee9-...`` of eight r5n.2xlarge hosts (ids, names, addresses, launch
  times) and the two hosts asked about in getReturnRequests.
- ``LSF``: IBM's examples for the LSF resource connector, IBMSpectrumComputing/
  cloud-provider-plugins ``README.md`` (Apache-2.0): template ``Template-VM-1``.
- ``GCP``: the single-object form of getRequestStatus, google/symphony-gcp
  ``hf-provider/tests/resources/get-request-status/get-request-status-002.json`` (Apache-2.0).

Where this service answers otherwise than IBM's provider, the example shows this service's
answer with the sample's values: acquire request ids are ``req-<uuid4>`` (IBM's AWS provider
answers an EC2 fleet id), the messages are ours, and machines carry every field Host Factory
reads (``publicIpAddress``, ``cloudHostId``...). Ids and times not in any sample (the acquire
requests, one newly launched host) are made up in the same style.

tests/api/test_docs_examples.py sends every request example to a live server over a fleet
made of these objects, and validates every response example against its schema.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drf_spectacular.utils import OpenApiExample

# -- the fleet ----------------------------------------------------------------------------

ONDEMAND_ID = "OnDemand-Minimal-Template-VM"  # IBM
SPOT_ID = "Spot-Template-VM"  # IBM
LSF_TEMPLATE_ID = "Template-VM-1"  # LSF
ATTRIBUTES = {  # IBM: both templates
    "nram": ["Numeric", "1024"],
    "ncpus": ["Numeric", "1"],
    "ncores": ["Numeric", "1"],
    "type": ["String", "X86_64"],
}
LSF_ATTRIBUTES = {  # LSF
    "mem": ["Numeric", "8192"],
    "ncpus": ["Numeric", "1"],
    "zone": ["String", "asiasoutheast"],
    "azurehost": ["Boolean", "1"],
    "ncores": ["Numeric", "1"],
    "type": ["String", "X86_64"],
    "nram": ["Numeric", "8192"],
}
IMAGE_ID = "ami-0c02fb55956c7d316"  # the samples leave imageId out; an AWS template needs one
ONDEMAND_CONFIG = {"imageId": IMAGE_ID, "vmType": "r5n.2xlarge"}  # IBM: the hosts' instance type
SPOT_CONFIG = {  # IBM
    "imageId": IMAGE_ID,
    "vmTypes": {"m3.medium": 1},
    "instanceTags": "company=abc;project=awscloud;team=xyz",
    "spotPrice": 0.05,
}

ACQUIRE_ID = "req-6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b"  # made up: the 10 on-demand hosts
PENDING_ID = "req-0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"  # made up: 2 hosts, one launched yet
RETURN_ID = "ret-84ffbee9-8c84-4afe-8e8e-ac052a7ff8d3"  # IBM
NEW_RETURN_ID = "ret-ce0680f0-01aa-4220-b10f-b658bb7b219e"  # IBM: requestReturnMachines' answer
NEW_ACQUIRE_ID = "req-2b7d4f1e-9c3a-4e8b-a5d6-7f0e1c2b3a49"  # made up: requestMachines' answer

# IBM: (machineId, name, privateIpAddress, launchtime) of the hosts return ret-84ffbee9 gave back.
RETURNED_HOSTS = [
    ("i-0721bb06651cad7f1", "ip-10-0-57-22.ec2.internal", "10.0.57.22", 1734619942),
    ("i-0af73d1e849ff1be7", "ip-10-0-55-65.ec2.internal", "10.0.55.65", 1734619942),
    ("i-0f7862c0e491a3699", "ip-10-0-57-187.ec2.internal", "10.0.57.187", 1734619942),
    ("i-0f1dfc111f6d14851", "ip-10-0-51-28.ec2.internal", "10.0.51.28", 1734619942),
    ("i-0e90ecb3228822f6f", "ip-10-0-57-7.ec2.internal", "10.0.57.7", 1734619988),
    ("i-0c8755260b9aa6ebe", "ip-10-0-57-154.ec2.internal", "10.0.57.154", 1734619988),
    ("i-0e219a7b5a927368a", "ip-10-0-62-139.ec2.internal", "10.0.62.139", 1734619988),
    ("i-0cd2be94721fe4c6f", "ip-10-0-58-203.ec2.internal", "10.0.58.203", 1734619988),
]
# IBM: the hosts getReturnRequests asked about, still running (addresses from their names).
KEPT_HOSTS = [
    ("i-022161abf93cc2af9", "ip-10-0-58-4.ec2.internal", "10.0.58.4", 1734619988),
    ("i-03fb8d8d5a6b2d681", "ip-10-0-50-105.ec2.internal", "10.0.50.105", 1734619988),
]
PENDING_MACHINE_ID = "i-0b1c2d3e4f5a69788"  # made up: PENDING_ID's first host, not yet running
NEW_MACHINE_ID = "i-0a9b8c7d6e5f40312"  # made up: PENDING_ID's second host
INSTANCE_TYPE = "r5n.2xlarge"  # IBM
CREATED = "2024-12-19T14:51:40Z"  # a moment before IBM's first launchtime
UPDATED = "2024-12-19T14:53:30Z"


def example(name: str, value: Any, *, request: bool = False, status: int = 200, summary: str = "") -> OpenApiExample:
    """One example, for the request body (``request``) or for the ``status`` answer."""
    if request:
        return OpenApiExample(name, value=value, summary=summary or name, request_only=True)
    return OpenApiExample(name, value=value, summary=summary or name, response_only=True, status_codes=[str(status)])


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- REST resources: what they answer ------------------------------------------------------


def template_json(template_id: str, **fields: Any) -> dict[str, Any]:
    """A template as the REST API shows it (the Spot one unless ``fields`` say otherwise)."""
    return {
        "template_id": template_id,
        "max_number": 10,
        "attributes": ATTRIBUTES,
        "provider_type": "aws",
        "provider_api": None,
        "price_type": "spot",
        "provider_config": SPOT_CONFIG,
        "description": "",
        "enabled": True,
        "effective_provider_api": "SpotFleet",
        "created_at": CREATED,
        "updated_at": CREATED,
        "version": 1,
        **fields,
    }


SPOT_TEMPLATE = template_json(SPOT_ID)
ONDEMAND_TEMPLATE = template_json(
    ONDEMAND_ID, price_type="ondemand", provider_config=ONDEMAND_CONFIG, effective_provider_api="RunInstances"
)


def request_json(request_id: str, **fields: Any) -> dict[str, Any]:
    """A request as the REST API shows it (the pending acquire unless ``fields`` say otherwise)."""
    return {
        "request_id": request_id,
        "request_type": "acquire",
        "template_id": ONDEMAND_ID,
        "machine_count": 2,
        "status": "in_progress",
        "message": "",
        "requested_by": "hostfactory-plugin",
        "deadline": "2024-12-19T15:51:40Z",
        "completed_at": None,
        "provider_data": {},
        "created_at": CREATED,
        "updated_at": UPDATED,
        "version": 3,
        **fields,
    }


PENDING_REQUEST = request_json(PENDING_ID)
RETURN_REQUEST = request_json(
    RETURN_ID,
    request_type="return",
    template_id=None,
    machine_count=len(RETURNED_HOSTS),
    status="complete",
    deadline=None,
    completed_at="2024-12-19T15:20:05Z",
    updated_at="2024-12-19T15:20:05Z",
)


def machine_json(host: tuple[str, str, str, int], **fields: Any) -> dict[str, Any]:
    """A running host of ACQUIRE_ID as the REST API shows it (unless ``fields`` say otherwise)."""
    machine_id, name, address, launched = host
    return {
        "machine_id": machine_id,
        "request_id": ACQUIRE_ID,
        "template_id": ONDEMAND_ID,
        "name": name,
        "return_request_id": None,
        "status": "running",
        "status_reason": "",
        "private_ip_address": address,
        "public_ip_address": None,
        "instance_type": INSTANCE_TYPE,
        "price_type": "ondemand",
        "launch_time": iso(launched),
        "tags": {},
        "reclaim_at": None,
        "created_at": CREATED,
        "updated_at": UPDATED,
        "version": 2,
        **fields,
    }


KEPT_MACHINE = machine_json(KEPT_HOSTS[0])
RETURNED_MACHINE = machine_json(
    RETURNED_HOSTS[0], status="terminated", return_request_id=RETURN_ID, updated_at="2024-12-19T15:20:05Z", version=4
)


# -- REST resources: what they take ----------------------------------------------------------

TEMPLATE_CREATE = {  # LSF's Template-VM-1, with the AWS launch settings this service needs
    "template_id": LSF_TEMPLATE_ID,
    "max_number": 200,
    "attributes": LSF_ATTRIBUTES,
    "provider_config": {"imageId": IMAGE_ID, "vmType": "m5.large", "instanceTags": "group=LSF2"},
    "description": "LSF resource connector hosts",
}
TEMPLATE_REPLACE = {
    "max_number": 10,
    "attributes": ATTRIBUTES,
    "price_type": "spot",
    "provider_config": SPOT_CONFIG,
    "description": "Spot hosts for interruptible work",
    "enabled": True,
    "version": 1,
}
MACHINE_REGISTER = {
    "machine_id": NEW_MACHINE_ID,
    "request_id": PENDING_ID,
    "template_id": ONDEMAND_ID,
    "status": "pending",
    "instance_type": INSTANCE_TYPE,
    "price_type": "ondemand",
    "tags": {"project": "awscloud"},
}
KEPT_REPLACE = {
    key: KEPT_MACHINE[key]
    for key in ("name", "status", "private_ip_address", "instance_type", "price_type", "launch_time", "tags")
} | {"tags": {"team": "xyz"}, "version": 2}
STATUS_REPORT = {
    "status": "running",
    "name": "ip-10-0-61-12.ec2.internal",
    "private_ip_address": "10.0.61.12",
    "launch_time": "2024-12-19T14:52:51Z",
}

# -- the event history: who changed what --------------------------------------------------


def event_json(aggregate: str, aggregate_id: str, **fields: Any) -> dict[str, Any]:
    """One event as the REST API shows it."""
    return {
        "event_id": "5b0e9c4d2a7f4e18",
        "at": UPDATED,
        "aggregate": aggregate,
        "aggregate_id": aggregate_id,
        "version": 2,
        "channel": "api",
        "actor": "operator",
        "reason": "",
        "changes": {},
        **fields,
    }


TEMPLATE_EVENT = event_json("template", SPOT_ID, channel="admin", actor="olga", changes={"max_number": [10, 20]})
REQUEST_EVENT = event_json(
    "request",
    PENDING_ID,
    at=CREATED,
    version=1,
    channel="hostfactory",
    actor="hostfactory-plugin",
    reason="requestMachines",
    changes={
        "request_type": [None, "acquire"],
        "template_id": [None, ONDEMAND_ID],
        "machine_count": [None, 2],
        "status": [None, "pending"],
        "requested_by": [None, "hostfactory-plugin"],
        "deadline": [None, "2024-12-19T15:51:40Z"],
    },
)
MACHINE_EVENT = event_json(  # a provisioner's status report: the host runs
    "machine",
    KEPT_HOSTS[0][0],
    channel="api",
    actor="provisioner",
    changes={
        "status": ["pending", "running"],
        "name": ["", KEPT_HOSTS[0][1]],
        "private_ip_address": [None, KEPT_HOSTS[0][2]],
        "launch_time": [None, iso(KEPT_HOSTS[0][3])],
    },
)
SYNC_EVENT = event_json(  # sync_machines finds a host the cloud took back
    "machine",
    KEPT_HOSTS[1][0],
    at="2024-12-19T15:12:04Z",
    version=4,
    channel="sync",
    actor="",
    reason="sync_machines",
    changes={"status": ["running", "terminated"], "status_reason": ["", "Server.SpotInstanceTermination"]},
)
EVENTS = {"feed": [example("The latest change in the fleet", SYNC_EVENT)]}

TEMPLATES = {
    "list": [example("A page of templates", SPOT_TEMPLATE)],
    "retrieve": [example("Spot-Template-VM", SPOT_TEMPLATE)],
    "create": [
        example("Template-VM-1", TEMPLATE_CREATE, request=True, summary="IBM LSF's Template-VM-1 on AWS"),
        example(
            "Created",
            template_json(
                LSF_TEMPLATE_ID,
                **{k: TEMPLATE_CREATE[k] for k in ("max_number", "attributes", "provider_config", "description")},
                price_type="ondemand",
                effective_provider_api="RunInstances",
            ),
            status=201,
        ),
    ],
    "update": [
        example("Every writable field", TEMPLATE_REPLACE, request=True),
        example(
            "Replaced",
            template_json(SPOT_ID, description=TEMPLATE_REPLACE["description"], updated_at=UPDATED, version=2),
        ),
    ],
    "partial_update": [
        example("Raise maxNumber", {"max_number": 20, "version": 1}, request=True),
        example("Changed", template_json(SPOT_ID, max_number=20, updated_at=UPDATED, version=2)),
    ],
    "search": [
        example("One CPU, x86", {"attributes": {"ncpus": "1", "type": ["String", "X86_64"]}}, request=True),
        example("Found", SPOT_TEMPLATE),
    ],
    "history": [example("Its latest change", TEMPLATE_EVENT)],
}
REQUESTS = {
    "list": [example("A page of requests", RETURN_REQUEST)],
    "active": [example("Active requests", PENDING_REQUEST)],
    "retrieve": [example("A return request, done", RETURN_REQUEST)],
    "create": [
        example("Two spot hosts", {"template_id": SPOT_ID, "machine_count": 2}, request=True),
        example(
            "Created",
            request_json(NEW_ACQUIRE_ID, template_id=SPOT_ID, status="pending", requested_by="operator", version=1),
            status=201,
        ),
    ],
    "partial_update": [
        example(
            "Tell Host Factory why", {"message": "Waiting for capacity in us-east-1a.", "version": 3}, request=True
        ),
        example("Changed", request_json(PENDING_ID, message="Waiting for capacity in us-east-1a.", version=4)),
    ],
    "status": [
        example("Cancel", {"status": "cancelled", "message": "Cancelled by an operator."}, request=True),
        example(
            "Cancelled",
            request_json(
                PENDING_ID,
                status="cancelled",
                message="Cancelled by an operator.",
                completed_at=UPDATED,
                version=4,
            ),
        ),
    ],
    "machines": [example("The hosts of an acquire request", KEPT_MACHINE)],
    "history": [example("Made by requestMachines", REQUEST_EVENT)],
}
MACHINES = {
    "list": [example("A page of machines", RETURNED_MACHINE)],
    "retrieve": [example("A running host", KEPT_MACHINE)],
    "create": [
        example("A host just launched", MACHINE_REGISTER, request=True),
        example(
            "Registered",
            machine_json(
                (NEW_MACHINE_ID, "", None, 0),
                **{k: MACHINE_REGISTER[k] for k in ("request_id", "status", "tags")},
                launch_time=None,
                updated_at=CREATED,
                version=1,
            ),
            status=201,
        ),
    ],
    "update": [
        example("Every writable field", KEPT_REPLACE, request=True),
        example("Replaced", machine_json(KEPT_HOSTS[0], tags={"team": "xyz"}, version=3)),
    ],
    "partial_update": [
        example("Tag it", {"tags": {"team": "xyz"}, "version": 2}, request=True),
        example("Changed", machine_json(KEPT_HOSTS[0], tags={"team": "xyz"}, version=3)),
    ],
    "lookup": [
        example("By instance id", {"instance_ids": [host[0] for host in KEPT_HOSTS]}, request=True),
        example("Found", KEPT_MACHINE),
    ],
    "status": [
        example("Running now", STATUS_REPORT, request=True),
        example(
            "Reported",
            machine_json(
                (PENDING_MACHINE_ID, STATUS_REPORT["name"], STATUS_REPORT["private_ip_address"], 0),
                request_id=PENDING_ID,
                launch_time=STATUS_REPORT["launch_time"],
                version=2,
            ),
        ),
    ],
    "reclaim": [
        example("Two minutes' notice", {"grace_period": 120}, request=True),
        example("At a time", {"reclaim_at": "2024-12-19T15:10:00Z"}, request=True),
        example("Noticed", machine_json(KEPT_HOSTS[0], reclaim_at="2024-12-19T15:10:00Z", version=3)),
    ],
    "reclaim_withdrawn": [example("Withdrawn", machine_json(KEPT_HOSTS[0], version=4))],
    "history": [example("It runs", MACHINE_EVENT)],
}
ROOT = [
    example(
        "Links",
        {
            name: f"https://hostfactory.example.com{path}"
            for name, path in {
                "templates": "/api/v1/templates/",
                "requests": "/api/v1/requests/",
                "machines": "/api/v1/machines/",
                "events": "/api/v1/events/",
                "getAvailableTemplates": "/api/v1/hostfactory/getAvailableTemplates",
                "requestMachines": "/api/v1/hostfactory/requestMachines",
                "requestReturnMachines": "/api/v1/hostfactory/requestReturnMachines",
                "getRequestStatus": "/api/v1/hostfactory/getRequestStatus",
                "getReturnRequests": "/api/v1/hostfactory/getReturnRequests",
                "health": "/api/v1/health/",
                "schema": "/api/schema/",
                "docs": "/api/docs/",
            }.items()
        },
    )
]
HEALTH_OK = {"status": "ok", "storage": "dynamodb", "version": "1.0.0", "checks": {"storage": "ok", "database": "ok"}}
HEALTH = [
    example("Healthy", HEALTH_OK),
    example(
        "Storage down",
        {**HEALTH_OK, "status": "unavailable", "checks": {"storage": "timeout", "database": "ok"}},
        status=503,
    ),
]

# -- the Host Factory operations -----------------------------------------------------------


def hf_template(template_id: str, price_type: str, config: dict[str, Any], api: str, available: int) -> dict:
    return {
        "templateId": template_id,
        "maxNumber": 10,
        "availableNumber": available,
        "attributes": ATTRIBUTES,
        "priceType": price_type,
        **config,
        "providerApi": api,
    }


def hf_host(host: tuple[str, str, str, int], result: str, status: str, message: str = "") -> dict[str, Any]:
    machine_id, name, address, launched = host
    return {
        "machineId": machine_id,
        "name": name,
        "result": result,
        "status": status,
        "privateIpAddress": address,
        "publicIpAddress": "",
        "instanceType": INSTANCE_TYPE,
        "priceType": "ondemand",
        "launchtime": launched,
        "message": message,
        "instanceTags": "",
        "cloudHostId": machine_id,
    }


HF_GET_AVAILABLE_TEMPLATES = [
    example("What Host Factory sends (IBM)", {}, request=True),
    example(
        "Both of IBM's templates",
        {
            "message": "Get available templates success.",
            "templates": [
                hf_template(ONDEMAND_ID, "ondemand", ONDEMAND_CONFIG, "RunInstances", 6),
                hf_template(SPOT_ID, "spot", SPOT_CONFIG, "SpotFleet", 10),
            ],
        },
    ),
]
HF_REQUEST_MACHINES = [
    example("10 spot hosts (IBM)", {"template": {"templateId": SPOT_ID, "machineCount": 10}}, request=True),
    example("Accepted", {"requestId": NEW_ACQUIRE_ID, "message": "Request VM success."}),
]
HF_REQUEST_RETURN_MACHINES = [
    example(
        "Eight hosts back (IBM)",
        {"machines": [{"name": name, "machineId": machine_id} for machine_id, name, _ip, _t in RETURNED_HOSTS]},
        request=True,
    ),
    example("Accepted", {"requestId": NEW_RETURN_ID, "message": "Delete VM success."}),
    example(
        "None of them live",
        {"requestId": "ret-270e5a85-a7c8-4a76-9dd5-e1cdb9c47861", "message": "No Active VM."},
        summary="None of the hosts is live any more (IBM's answer too)",
    ),
]
HF_GET_REQUEST_STATUS = [
    example("A return request (IBM)", {"requests": [{"requestId": RETURN_ID}]}, request=True),
    example(
        "One object, not a list (GCP)",
        {"requests": {"requestId": PENDING_ID}},
        request=True,
        summary="The single-object form some callers send",
    ),
    example(
        "The return, done (IBM)",
        {
            "requests": [
                {
                    "requestId": RETURN_ID,
                    "status": "complete",
                    "message": "",
                    "machines": [hf_host(host, "succeed", "terminated") for host in RETURNED_HOSTS],
                }
            ]
        },
    ),
    example(
        "An acquire, still running",
        {
            "requests": [
                {
                    "requestId": PENDING_ID,
                    "status": "running",
                    "message": "",
                    "machines": [hf_host((PENDING_MACHINE_ID, "", "", 1734619900), "executing", "pending")],
                }
            ]
        },
    ),
]
HF_GET_RETURN_REQUESTS = [
    example(
        "Two hosts (IBM)",
        {"machines": [{"name": name, "machineId": machine_id} for machine_id, name, _ip, _t in KEPT_HOSTS]},
        request=True,
    ),
    example(
        "One reclaimed by the cloud",
        {
            "status": "complete",
            "message": "Machines to return.",
            "requests": [{"machine": KEPT_HOSTS[1][1], "machineId": KEPT_HOSTS[1][0], "gracePeriod": 120}],
        },
    ),
    example("Nothing to give back", {"status": "complete", "message": "No machines to return.", "requests": []}),
]
