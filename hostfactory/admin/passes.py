"""The index's "Passes" panel and its 24-hour chart of live machines, both from the records
the provision and sync passes leave (hostfactory/fleet/passes.py), never from the fleet:
two key reads for the last successful passes, one query of at most 144 records (one per
10 minutes) for the chart.

The chart is drawn here as SVG geometry (no JavaScript, nothing from a CDN): time runs left
to right over the 24 hours, live machines bottom to top from 0 to the day's highest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from hostfactory.admin.model_admin import aws_provider_on
from hostfactory.storage.history import PASS_BUCKET_SECONDS, PassRecord

CHART_HOURS = 24
# How many intervals a pass may miss before it is flagged stale.
STALE_INTERVALS = 3
# A line is broken where records are further apart than this (passes stopped for a while):
# drawing across the gap would show machines nobody counted.
GAP = timedelta(seconds=2 * PASS_BUCKET_SECONDS)
# The drawing: a viewBox of WIDTH x HEIGHT, the plot inside the margins left for the labels.
WIDTH, HEIGHT = 480, 120
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 8, 22
# Where the axis and its labels go, for the template.
FRAME = {
    "width": WIDTH,
    "height": HEIGHT,
    "left": LEFT,
    "right": WIDTH - RIGHT,
    "top": TOP,
    "bottom": HEIGHT - BOTTOM,
    "label_x": LEFT - 4,  # the values' labels end here
    "label_y": HEIGHT - 6,  # the times' labels stand here
}


@dataclass(frozen=True)
class PassAge:
    """The last successful pass of one kind, how old it is, and whether that is too old."""

    name: str  # "provision" or "sync"
    command: str  # what an operator runs: "provision", "sync_machines"
    last: PassRecord | None
    age: timedelta | None
    stale_after: timedelta
    expected: bool = True  # False: this service does not run such passes (provision, provider none)

    @property
    def stale(self) -> bool:
        return self.expected and (self.age is None or self.age > self.stale_after)


PASS_COMMANDS = {"provision": "provision", "sync": "sync_machines"}


def pass_intervals() -> dict[str, int]:
    """Seconds between two passes of each kind, as they are scheduled."""
    return {"provision": settings.HOSTFACTORY_PROVISION_INTERVAL, "sync": settings.HOSTFACTORY_SYNC_INTERVAL}


def pass_ages(history, now: datetime) -> list[PassAge]:
    found = []
    for name, interval in pass_intervals().items():
        last = history.last_pass(name)
        found.append(
            PassAge(
                name=name,
                command=PASS_COMMANDS[name],
                last=last,
                age=None if last is None else now - last.at,
                stale_after=timedelta(seconds=STALE_INTERVALS * interval),
                # With HOSTFACTORY_PROVIDER=none, `provision` refuses to run: no pass is due.
                expected=name != "provision" or aws_provider_on(),
            )
        )
    return found


@dataclass(frozen=True)
class LiveChart:
    """Live machines per pass record over the last ``CHART_HOURS``, as SVG geometry."""

    source: str  # the pass kind the points come from ("" when there are none)
    points: list[tuple[datetime, int]]
    start: datetime
    end: datetime

    @property
    def highest(self) -> int:
        return max((live for _at, live in self.points), default=0)

    @property
    def lines(self) -> list[str]:
        """SVG ``points`` of each unbroken run of records."""
        runs: list[list[tuple[datetime, int]]] = []
        for point in self.points:
            if not runs or point[0] - runs[-1][-1][0] > GAP:
                runs.append([])
            runs[-1].append(point)
        return [" ".join(f"{x:.1f},{y:.1f}" for x, y in map(self.position, run)) for run in runs]

    @property
    def last_point(self) -> tuple[float, float] | None:
        return self.position(self.points[-1]) if self.points else None

    def position(self, point: tuple[datetime, int]) -> tuple[float, float]:
        at, live = point
        span = (self.end - self.start).total_seconds()
        x = LEFT + (WIDTH - LEFT - RIGHT) * min(max((at - self.start).total_seconds() / span, 0.0), 1.0)
        y = HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * live / max(self.highest, 1)
        return x, y

    @property
    def label(self) -> str:
        if not self.points:
            return f"live machines, last {CHART_HOURS} h: no pass recorded"
        first, last = self.points[0][1], self.points[-1][1]
        return f"live machines, last {CHART_HOURS} h: {first} -> {last} (highest {self.highest})"


def live_chart(history, now: datetime) -> LiveChart:
    """From the provision passes; from the sync passes when no provision pass was recorded
    in the last 24 hours (a service whose provider launches nothing itself). A failed pass
    that counted no machine (its sync with the cloud failed) is no point: it did not count
    them, and 0 would say the fleet was gone."""
    start = now - timedelta(hours=CHART_HOURS)
    for name in ("provision", "sync"):
        records = [record for record in history.passes(name, start) if record.ok or record.machines]
        if records:
            return LiveChart(name, [(record.at, record.live) for record in records], start, now)
    return LiveChart("", [], start, now)
