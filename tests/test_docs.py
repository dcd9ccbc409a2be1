"""The documentation stays honest: a short README, links that resolve, real commands, tables that match the code.

The README is what a newcomer reads first; the reference lives in docs/*.md. What they show is checked here
against the files it describes (Pulumi.yaml, the drill's parser, .ci/run, components/investigations.py), so
a change to one of those fails until the page says the same.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from components.investigations import INVESTIGATION_REGIONS
from drill import outputs
from drill.parser import build_parser

README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
MAX_README_LINES = 300
MAX_LINE = 120  # as ruff's line-length
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
DRILL = "python -m drill"


def split_fences(text: str) -> tuple[list[str], list[str]]:
    """(lines outside fenced code blocks, lines inside them); a fence closes with a run of its character
    at least as long as the one that opened it."""
    prose: list[str] = []
    code: list[str] = []
    fence = ""
    for line in text.splitlines():
        match = FENCE.match(line)
        if fence and match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
            fence = ""
        elif fence:
            code.append(line)
        elif match:
            fence = match.group(1)
        else:
            prose.append(line)
    return prose, code


def prose_lines(text: str) -> list[str]:
    return split_fences(text)[0]


def code_lines(text: str) -> list[str]:
    return split_fences(text)[1]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for line in prose_lines(page.read_text(encoding="utf-8")):
        if match := re.match(r"#{1,6}\s+(.*)", line):
            base = slug(match.group(1))
            name, n = base, 0
            while name in found:  # GitHub numbers repeated headings: x, x-1, x-2
                n += 1
                name = f"{base}-{n}"
            found.add(name)
    return found


def table_rows(lines: list[str]) -> list[list[str]]:
    """Cells of the markdown table rows among `lines`, header and separator rows left out."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines if line.startswith("|")]
    return [r for r in rows if not all(set(c) <= set("-: ") for c in r)][1:]


def test_readme_is_short_and_narrow():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move reference material to docs/"
    wide = [(n, len(line)) for n, line in enumerate(lines, 1) if len(line) > MAX_LINE]
    assert not wide, f"README.md lines over {MAX_LINE} characters (line, length): {wide}"


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_an_existing_file_and_heading(page):
    broken = []
    for line in prose_lines(page.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{target}: no file {linked}")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    assert not broken, broken


def test_the_readme_links_every_page_in_docs():
    text = README.read_text(encoding="utf-8")
    missing = [p.name for p in PAGES if f"(docs/{p.name})" not in text]
    assert not missing, f"docs pages the README does not link: {missing}"


def drill_commands(page: Path) -> list[str]:
    """Every line of the page's code blocks that runs `python -m drill` (output that mentions it is not one)."""
    return [line.strip() for line in code_lines(page.read_text(encoding="utf-8")) if line.strip().startswith(DRILL)]


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_drill_command_shown_parses(page, capsys):
    parser = build_parser()
    for line in drill_commands(page):
        words = shlex.split(line, comments=True)[3:]
        try:
            parser.parse_args(words)
        except SystemExit:
            pytest.fail(f"{page.name}: `{line}` is not a valid drill command: {capsys.readouterr().err.strip()}")


def test_the_readme_test_command_is_the_one_ci_runs():
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    command = next(line for line in ci if line.startswith("python -m pytest"))
    commands = [line for line in code_lines(README.read_text(encoding="utf-8")) if line.startswith(("python", "pip"))]
    shown = [shlex.split(line, comments=True) for line in commands]
    assert shlex.split(command) in shown, f"README shows no `{command}` (the command .ci/run runs)"
    assert ["pip", "install", "-r", "requirements-dev.txt"] in shown


def test_the_drill_page_lists_every_command_and_option():
    """docs/drill.md's table is the reference: a row for every command, every option in its row or the common line."""
    lines = prose_lines((ROOT / "docs" / "drill.md").read_text(encoding="utf-8"))
    section = lines[lines.index("## In one command: `python -m drill`") :]
    section = section[: next(i for i, line in enumerate(section[1:], 1) if line.startswith("## "))]
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    rows = {re.match(r"`python -m drill ([^\s`]+)", r[0]).group(1): r[0] for r in table_rows(section)}
    assert set(rows) == set(commands), "docs/drill.md's command table and the parser differ"
    common = next(line for line in section if line.startswith("Every command but `rehearse` takes"))
    for name, sub in commands.items():
        for option in (o for a in sub._actions for o in a.option_strings if o.startswith("--") and o != "--help"):
            assert f"`{option}" in common or f"[{option}" in rows[name], (name, option)


def shown_default(value: object) -> str:
    """How the configuration table writes a Pulumi.yaml default."""
    if isinstance(value, bool):
        return str(value).lower()
    return '`""`' if value == "" else str(value)


def test_the_configuration_table_matches_pulumi_yaml():
    """Every key Pulumi.yaml declares has a row with its default; every project key in the table exists."""
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    rows = table_rows(prose_lines((ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")))
    documented = {r[0].strip("`"): r[1] for r in rows if len(r) == 3 and r[0].startswith("`")}
    project_keys = {k for k in documented if ":" not in k}
    assert project_keys == set(declared), "docs/configuration.md's keys and Pulumi.yaml's differ"
    for key, spec in declared.items():
        assert documented[key].strip("`") == shown_default(spec["default"]).strip("`"), key


def test_the_outputs_table_lists_exactly_the_outputs_the_program_may_export():
    """The table of stack outputs and the output contract (drill/outputs.py) name the same outputs."""
    rows = table_rows(prose_lines((ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")))
    documented = {r[0].strip("`") for r in rows if len(r) == 2 and r[0].startswith("`")}
    assert documented == set(outputs.EXPORTS)


def test_the_investigation_regions_are_the_ones_the_program_knows():
    text = (ROOT / "docs" / "observability.md").read_text(encoding="utf-8")
    listed = re.search(r"\*\*Regions\*\*: (.*?)\s\(", text, re.DOTALL).group(1)
    assert [r.strip() for r in listed.split(",")] == list(INVESTIGATION_REGIONS)
