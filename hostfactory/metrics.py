"""GET /metrics: the service in Prometheus text format (docs/operations.md "Metrics").

Its own registry, not prometheus_client's global one, so nothing a library registers leaks in
and each test reads what the service counted. Capacity is read from the templates' ledgers
at scrape time (one read of the small templates table, never a scan of machines or
requests); machines and requests by status from the last passes' records (two key reads);
operation latency and storage calls are counted in this process as they happen.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import secrets
import time
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from hostfactory.domain import utcnow
from hostfactory.errors import HostFactoryError, StorageUnavailable
from hostfactory.storage import get_repositories
from hostfactory.storage.base import call_observers
from hostfactory.storage.history import PASSES, PassRecord

logger = logging.getLogger("hostfactory.metrics")
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-IP")
REGISTRY = CollectorRegistry()
# No ``*_created`` series: they double what is stored and no panel reads them.
disable_created_metrics()

OPERATION_SECONDS = Histogram(
    "hostfactory_operation_seconds",
    "Seconds a Host Factory operation took, authentication and errors included.",
    ["operation"],
    registry=REGISTRY,
)
STORAGE_CALLS = Counter(
    "hostfactory_storage_calls",
    "Repository calls by method, and how they ended: ok, or the error's code.",
    ["operation", "outcome"],
    registry=REGISTRY,
)


class CapacityCollector(Collector):
    """``hostfactory_template_capacity``: each template's ledger as stored, read per scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "hostfactory_template_capacity",
            "A template's capacity ledger: used (live hosts plus the unlaunched part of active "
            "acquire requests), reserved (hosts its active acquire requests reserved), max "
            "(its maxNumber; absent when unlimited).",
            labels=["template_id", "kind"],
        )
        for template, usage in get_repositories().templates.get_all_with_usage():
            family.add_metric([template.template_id, "used"], usage.used)
            family.add_metric([template.template_id, "reserved"], usage.reserved)
            if not template.is_unlimited:
                family.add_metric([template.template_id, "max"], template.max_number)
        yield family


# Which passes count what: both count the live machines; only provision counts the active
# requests (a sync record's empty requests mean "not counted", not "none").
COUNTED_BY = {"machines": PASSES, "requests": ("provision",)}


class PassCollector(Collector):
    """Machines and requests by status as the newest successful pass that counted them left
    them, and each pass's age: the passes' last records, one key read each."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        history = get_repositories().history
        last = {name: history.last_pass(name) for name in PASSES}
        age = GaugeMetricFamily(
            "hostfactory_last_pass_age_seconds",
            "Seconds from the end of the last successful pass to this scrape, as of the last pass "
            "record: provision (manage.py provision) or sync (manage.py sync_machines); absent when "
            "it never ran.",
            labels=["pass"],
        )
        now = utcnow()
        for name, record in last.items():
            if record is not None:
                age.add_metric([name], (now - record.at).total_seconds())
        yield _counted(
            "hostfactory_machines",
            "Live machines by status and template, as of the last pass (provision or sync, whichever "
            "ended last); absent before any pass.",
            ["status", "template_id"],
            _newest(last, COUNTED_BY["machines"]),
            "machines",
        )
        yield _counted(
            "hostfactory_requests",
            "Active requests by status and type, as of the last pass that counts them (provision); absent before any.",
            ["status", "request_type"],
            _newest(last, COUNTED_BY["requests"]),
            "requests",
        )
        yield age


def _newest(last: dict[str, PassRecord | None], names: tuple[str, ...]) -> PassRecord | None:
    return max((last[name] for name in names if last[name] is not None), key=lambda r: r.at, default=None)


def _counted(name: str, documentation: str, labels: list[str], record: PassRecord | None, what: str):
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for outer, by_inner in (getattr(record, what) if record else {}).items():
        for inner, number in by_inner.items():
            family.add_metric([outer, inner], number)
    return family


SCRAPED = (CapacityCollector, PassCollector)  # read from storage at each scrape
for collector in SCRAPED:
    REGISTRY.register(collector())


def count_storage_call(call: str, error: BaseException | None) -> None:
    STORAGE_CALLS.labels(call, _outcome(error)).inc()


def _outcome(error: BaseException | None) -> str:
    """``ok``, or the error's stable code: a few values, whatever the messages say."""
    if error is None:
        return "ok"
    return error.code if isinstance(error, HostFactoryError) else "unexpected"


if count_storage_call not in call_observers:
    call_observers.append(count_storage_call)


def timed_operation(dispatch):
    """Decorates a Host Factory view's ``dispatch``: the operation is the last part of its URL
    route, which is Host Factory's own operation name (hostfactory_api/urls.py)."""

    @functools.wraps(dispatch)
    def wrapper(view, request, *args, **kwargs):
        started = time.perf_counter()
        try:
            return dispatch(view, request, *args, **kwargs)
        finally:
            operation = request.resolver_match.route.rsplit("/", 1)[-1]
            OPERATION_SECONDS.labels(operation).observe(time.perf_counter() - started)

    return wrapper


@csrf_exempt  # no cookie authenticates here, and nothing but GET is answered
def metrics_view(request: HttpRequest) -> HttpResponse:
    refused = _refusal(request)
    if refused is not None:
        return refused
    if request.method not in ("GET", "HEAD"):
        return _error(405, "method_not_allowed", f"{request.method} is not allowed on /metrics; use GET.")
    try:
        body = generate_latest(_registry())
    except StorageUnavailable as error:
        logger.warning("metrics: storage unavailable: %s", error)
        return _error(
            503, error.code, "Storage unavailable; the capacity ledgers or pass records could not be read. Try again."
        )
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def _registry() -> CollectorRegistry:
    """This process's registry; with PROMETHEUS_MULTIPROC_DIR set (several gunicorn workers),
    one that sums what every worker wrote there, so a scrape answered by any worker is whole."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    for collector in SCRAPED:
        registry.register(collector())
    return registry


def _refusal(request: HttpRequest) -> JsonResponse | None:
    """With HOSTFACTORY_METRICS_TOKEN set, only ``Authorization: Bearer <token>``; unset, only
    clients on this host."""
    token = settings.HOSTFACTORY_METRICS_TOKEN
    if token:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(sent.strip().encode(), token.encode()):
            return None
        response = _error(
            401, "not_authenticated", "/metrics needs 'Authorization: Bearer <HOSTFACTORY_METRICS_TOKEN>'."
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if _is_loopback(request.META.get("REMOTE_ADDR", "")) and not _forwarded(request):
        return None
    return _error(
        403,
        "permission_denied",
        "/metrics is open only to clients on this host, not through a proxy, while HOSTFACTORY_METRICS_TOKEN "
        "is unset; set it and scrape with 'Authorization: Bearer <token>'.",
    )


def _forwarded(request: HttpRequest) -> bool:
    """A proxy on this host makes every client look local: what it forwarded is not local."""
    return any(name in request.headers for name in FORWARDING_HEADERS)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)
