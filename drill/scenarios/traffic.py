"""`python -m drill traffic --rps N --duration S`: steady requests to the stack's API, so a partial fault shows.

A FIS experiment fails or delays a share of invocations: with no traffic there is nothing to fail, and the
guards and the latency alarm judge one-minute periods (the guards ignore a minute with fewer than 10
requests, components/fault_experiments.py). Each request is the drill's own probe (`drill.probe`, an HTTPS
GET of the API endpoint), sent from a small pool so a slow answer does not hold the rate back.

Every request is an image-function invocation, and the armed invocations alarm injects the seed's fault at
its threshold: like every scenario but the seed's, traffic disarms it first (recording the arming found)
and puts that arming back afterwards by the re-arm rule, also after Ctrl-C or SIGTERM (scenarios/arming.py).
`until_alarm` is the same traffic for `trigger`/`gameday` of a FIS scenario, whose inject disarmed it already.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from drill.scenarios.arming import disarm, found_arming, put_back
from drill.steps.alarm import alarm_states
from drill.steps.model import Drill, Probe, StepResult, Timeline

MAX_RPS = 50.0  # a drill's traffic, not a load test: far below the account's Lambda and API Gateway limits
MAX_DURATION_SECONDS = 3600.0
MAX_WORKERS = 32  # requests in flight at once; a 3 s delay at 10 rps needs 30
PROGRESS_SECONDS = 5.0
# While trigger/gameday wait for a FIS scenario's alarm: 120 requests a minute, above the guards' 10 a minute
# (components/fault_experiments.py GUARD_MIN_REQUESTS), enough for a p99 of one minute to be more than its maximum.
SYMPTOM_RPS = 2.0


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (`share` in 0..100) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share / 100 * len(ordered)) - 1)]


@dataclass
class Tally:
    """What the requests got: status counts ("none" for no answer) and latencies in ms."""

    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, probe: Probe) -> None:
        with self.lock:
            self.statuses[str(probe.status) if probe.status is not None else "none"] += 1
            self.latencies.append(probe.latency_ms)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def line(self) -> str:
        with self.lock:
            counts = ", ".join(f"{status} x{count}" for status, count in sorted(self.statuses.items()))
            p50, p99 = percentile(self.latencies, 50), percentile(self.latencies, 99)
        latency = f"p50 {p50:.0f} ms, p99 {p99:.0f} ms" if p50 is not None and p99 is not None else "no answers yet"
        return f"{self.requests} requests ({counts or 'none yet'}); latency {latency}"

    def to_json(self) -> dict[str, object]:
        with self.lock:
            return {
                "requests": self.requests,
                "statuses": dict(sorted(self.statuses.items())),
                "latency_ms": {"p50": percentile(self.latencies, 50), "p99": percentile(self.latencies, 99)},
            }


def send(drill: Drill, *, rps: float, duration: float, tally: Tally) -> None:
    """`rps` requests a second for `duration` seconds, a progress line every PROGRESS_SECONDS; returns once
    every request sent has its answer."""
    start = drill.clock()
    sent = 0
    next_progress = start + PROGRESS_SECONDS
    with ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="drill-traffic") as pool:
        while True:
            elapsed = drill.clock() - start
            if elapsed >= duration:
                break
            due = min(math.floor(elapsed * rps) + 1, math.ceil(duration * rps))
            while sent < due:
                pool.submit(lambda: tally.add(drill.probe()))
                sent += 1
            if drill.clock() >= next_progress:
                drill.progress(f"traffic: {elapsed:.0f}/{duration:.0f}s, {tally.line()}")
                next_progress += PROGRESS_SECONDS
            drill.sleep(max(0.0, min((sent / rps) - elapsed, duration - elapsed)))


def traffic(drill: Drill, *, rps: float, duration: float, rearm_timeout: float, interval: float = 5) -> StepResult:
    timeline = Timeline(drill)
    tally = Tally()
    found = found_arming(drill)
    if disarm(drill):
        timeline.mark("disarmed the invocations alarm while the traffic runs (the seed's fault stays out)")
    timeline.mark(f"sending {rps:g} requests a second for {duration:g}s to the stack's API")
    interrupted: BaseException | None = None
    try:
        send(drill, rps=rps, duration=duration, tally=tally)
    except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM (Terminated): put the arming back, then say so
        interrupted = stop
        timeline.mark("interrupted: putting the invocations alarm's arming back")
    finally:
        timeline.mark(tally.line())
        wait = 0 if interrupted else rearm_timeout  # interrupted: one look, no waiting
        _, why = put_back(drill, found, deadline=drill.clock() + wait, interval=interval)
        timeline.mark(why)
    summary = f"traffic: {tally.line()}"
    data = {**tally.to_json(), "rps": rps, "duration": duration, "timeline": timeline.to_json()}
    return StepResult("traffic", True, timeline.elapsed(), summary, timeline.lines(), data, stopped=interrupted)


def until_alarm(
    drill: Drill, alarms: list[str], *, deadline: float, interval: float, rps: float = SYMPTOM_RPS
) -> tuple[str | None, Tally]:
    """Traffic in rounds of `interval` seconds until one of `alarms` is in ALARM or the deadline: (the alarm
    that fired or None, what the requests got). The caller's scenario keeps the invocations alarm disarmed."""
    tally = Tally()
    while True:
        states = alarm_states(drill, alarms)
        firing = sorted(name for name, alarm in states.items() if alarm["StateValue"] == "ALARM")
        if firing:
            return firing[0], tally
        remaining = deadline - drill.clock()
        if remaining <= 0:
            return None, tally
        drill.progress(f"waiting for {' or '.join(alarms)} under traffic: {tally.line()}")
        send(drill, rps=rps, duration=min(interval, remaining), tally=tally)
