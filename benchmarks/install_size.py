"""Disk space of what `pip install -r requirements.txt` installs, split by what needs it.

Run from the project root:  ./venv/bin/python benchmarks/install_size.py

It reads the installed distributions of the running environment (importlib.metadata), follows the
dependencies of each requirement in requirements.txt (with its extras), and adds up the size of every file a
distribution recorded. Development packages (requirements-dev.txt) are not counted unless a runtime
requirement needs them. "moto[server] only" are the distributions nothing else in requirements.txt needs.
Sizes do not depend on the machine's load; they depend on the platform's wheels (the machine line says which).
"""

from __future__ import annotations

import platform
import re
import sys
from importlib import metadata
from pathlib import Path

from _harness import machine, print_table
from packaging.requirements import Requirement  # pulumi needs packaging: it is in every install

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
SDKS = ("pulumi", "pulumi-aws", "pulumi-aws-native", "boto3")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def top_requirements() -> list[Requirement]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [Requirement(line.split("#", 1)[0].strip()) for line in lines if line.split("#", 1)[0].strip()]


def closure(requirement: Requirement) -> set[str]:
    """Canonical names of the distribution and everything it needs, extras included, in this environment."""
    seen: set[str] = set()
    todo = [(requirement.name, frozenset(requirement.extras))]
    while todo:
        name, extras = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency for another platform or Python
        seen.add(canonical(name))
        for text in dist.requires or []:
            needed = Requirement(text)
            environments = [{"extra": e} for e in extras] or [{"extra": ""}]
            if needed.marker and not any(needed.marker.evaluate(env) for env in environments):
                continue
            if canonical(needed.name) not in seen:
                todo.append((needed.name, frozenset(needed.extras)))
    return seen


def size(name: str) -> int:
    dist = metadata.distribution(name)
    total = 0
    for file in dist.files or []:
        path = Path(dist.locate_file(file))
        if path.is_file():
            total += path.stat().st_size
    return total


def main() -> None:
    requirements = top_requirements()
    needs = {canonical(r.name): closure(r) for r in requirements}
    everything = set().union(*needs.values())
    moto_only = needs["moto"] - set().union(*(v for k, v in needs.items() if k != "moto"))
    sdk = set().union(*(needs[k] for k in SDKS))
    groups = {
        "everything requirements.txt installs": everything,
        "pulumi, pulumi-aws, pulumi-aws-native, boto3 and their needs": sdk,
        "moto[server] only (nothing else needs these)": moto_only,
    }
    sizes = {name: size(name) for name in everything}
    rows = [
        {"what": what, "distributions": str(len(names)), "MiB": f"{sum(sizes[n] for n in names) / MIB:.0f}"}
        for what, names in groups.items()
    ]
    print(machine())
    print(f"Python {platform.python_version()} on {platform.machine()} ({sys.platform})")
    print_table(rows)
    largest = sorted(moto_only, key=sizes.get, reverse=True)[:5]
    print("\nlargest moto[server]-only distributions: " + ", ".join(f"{n} {sizes[n] / MIB:.0f}" for n in largest))
    print("MiB = sum of the files each distribution recorded (RECORD); the virtualenv itself adds pip's own.")


if __name__ == "__main__":
    main()
