"""Game day: a catalogue of reversible faults, injected on demand, recorded first and restored exactly.

`catalogue` lists the scenarios (one per root-cause kind of the investigator), `record` is the store of
prior states (a DynamoDB table of the stack, components/drill_support.py), `inject` and `restore` the two
operations, `command` their CLI output.
"""

from drill.scenarios.catalogue import BY_NAME, NAMES, SCENARIOS, SEED
from drill.scenarios.inject import inject
from drill.scenarios.model import Scenario
from drill.scenarios.restore import restore

__all__ = ["BY_NAME", "NAMES", "SCENARIOS", "SEED", "Scenario", "inject", "restore"]
