"""The open root-cause investigator: evidence in, ranked hypotheses and a report out.

No CLI code lives here. `resolve_target` turns stack outputs into a `Target`, `investigate` runs every
collector (one per evidence source; an unavailable source becomes an "unavailable" evidence item),
ranks hypotheses from the evidence alone and draws the conclusions; `render` formats the report.
"""

from drill.investigator.collectors.images import count_images
from drill.investigator.engine import DEFAULT_SINCE_MINUTES, investigate
from drill.investigator.model import Evidence, Hypothesis, Report, Target, Window
from drill.investigator.render import to_json, to_markdown
from drill.investigator.target import REQUIRED_OUTPUTS, resolve_target

__all__ = [
    "DEFAULT_SINCE_MINUTES",
    "REQUIRED_OUTPUTS",
    "Evidence",
    "Hypothesis",
    "Report",
    "Target",
    "Window",
    "count_images",
    "investigate",
    "resolve_target",
    "to_json",
    "to_markdown",
]
