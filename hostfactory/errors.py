"""Errors shared by the domain, the repositories and every edge (API, admin, commands).

Plain Python, no framework imports, so the domain modules can raise them. Each error carries
a stable ``code`` that the REST API puts in its JSON bodies.
"""


class HostFactoryError(Exception):
    """Base of every error this service raises on purpose."""

    code = "error"


class DomainValidationError(HostFactoryError, ValueError):
    """An aggregate would be invalid. The message names the field and the rule."""

    code = "invalid"

    def __init__(self, field: str, rule: str):
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")


class InvalidTransition(HostFactoryError):
    """A status move that the aggregate's status machine does not allow."""

    code = "invalid_transition"

    def __init__(self, kind: str, entity_id: str, current: str, target: str, allowed):
        self.current = current
        self.target = target
        self.allowed = sorted(allowed)
        allowed_text = ", ".join(self.allowed) or "none (terminal status)"
        super().__init__(
            f"{kind} {entity_id}: cannot move from {current!r} to {target!r}; allowed from {current!r}: {allowed_text}"
        )


class FinalStatusChange(InvalidTransition):
    """A change to an aggregate in a final status (no move out of it): it stays as it is. An
    InvalidTransition, so every caller that refuses a bad move refuses this too (HTTP 409)."""

    def __init__(self, kind: str, entity_id: str, status: str, fields):
        self.current = self.target = status
        self.allowed = []
        HostFactoryError.__init__(
            self,
            f"{kind} {entity_id} is {status!r}, a final status: nothing of it changes any more "
            f"(refused change of {', '.join(fields)}); only a move that changes nothing is allowed",
        )


class StorageError(HostFactoryError):
    """Base of the repository errors."""

    code = "storage_error"


class InvalidFilter(StorageError, ValueError):
    """Unknown filter key, bad filter value, or a cursor that we did not issue."""

    code = "invalid_filter"


class InvalidCursor(InvalidFilter):
    code = "invalid_cursor"


class VersionConflict(StorageError):
    """A stale save, or a create of an id that already exists."""

    code = "version_conflict"


class StorageUnavailable(StorageError):
    """The backend cannot be reached, or throttled us past the retries."""

    code = "storage_unavailable"


class InUse(HostFactoryError):
    """A delete refused because something still uses the aggregate."""

    code = "in_use"


class RequestClosed(HostFactoryError):
    """A machine offered to a request that takes no more (ended, or all its machines in)."""

    code = "request_closed"


class ReturnInFlight(HostFactoryError):
    """Hosts held by a return that is not written yet: a call still running, or one that
    failed a moment ago. Retry once the claim's lease has run out."""

    code = "return_in_flight"


class NotFound(HostFactoryError):
    """An id that names nothing stored."""

    code = "not_found"
