"""Steady traffic on a thread while a FIS scenario is observed offline: its symptom and its investigation.

A partial fault shows only under traffic, and on AWS a game day's traffic keeps running while the team
investigates, so the latency or errors alarm stays in ALARM. Offline, traffic that stopped when the alarm
fired would let the alarm go back to OK within two compressed minutes, a few seconds, perhaps before the
investigator reads it on a loaded machine. The requests are the drill's own (`traffic.send`, the drill's
probe through the local API), in rounds, until the block ends; the round in flight is finished then.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from drill.scenarios.traffic import Tally, send
from drill.steps.model import Drill


@contextmanager
def steady_traffic(drill: Drill, *, rps: float, round_seconds: float, join_timeout: float = 30.0) -> Iterator[Tally]:
    """`rps` requests a second to the stack's API while the block runs; the tally of what they got."""
    tally = Tally()
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                send(drill, rps=rps, duration=round_seconds, tally=tally)
            except Exception as err:  # the thread must not die silently: the tally says what happened
                tally.statuses[f"error {type(err).__name__}"] += 1
                stop.wait(round_seconds)

    thread = threading.Thread(target=loop, name="rehearsal-steady-traffic", daemon=True)
    thread.start()
    try:
        yield tally
    finally:
        stop.set()
        thread.join(timeout=join_timeout)
