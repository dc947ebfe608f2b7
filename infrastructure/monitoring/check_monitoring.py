#!/usr/bin/env python3
"""Structural checks of infrastructure/monitoring that promtool and the JSON Schema cannot make.

    python3 infrastructure/monitoring/check_monitoring.py

- every alert in prometheus/alerts.yml has a test case where it fires and one where it stays
  silent in prometheus/alerts_test.yml;
- every alert has severity, summary, description and a runbook_url docs/operations.md#<anchor>
  whose anchor is a heading of docs/operations.md (GitHub's anchor rule), and that heading is
  the alert's name;
- every dashboard has a unique uid, unique panel ids, and panels that do not overlap.
Needs PyYAML. Exits 1 listing every problem.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the environment
    sys.exit("check_monitoring.py needs PyYAML: pip install PyYAML")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ALERTS = HERE / "prometheus" / "alerts.yml"
TESTS = HERE / "prometheus" / "alerts_test.yml"
DASHBOARDS = HERE / "grafana" / "dashboards"
RUNBOOK = ROOT / "docs" / "operations.md"


def github_anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading (without the -1, -2 of repeated headings)."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def check_alerts(problems: list[str]) -> None:
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    tests = yaml.safe_load(TESTS.read_text(encoding="utf-8"))
    fires: set[str] = set()
    silent: set[str] = set()
    for case in tests.get("tests", []):
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    headings: set[str] = set()
    if RUNBOOK.exists():
        for line in RUNBOOK.read_text(encoding="utf-8").splitlines():
            match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if match:
                headings.add(github_anchor(match.group(1)))
    else:
        problems.append(f"{RUNBOOK.relative_to(ROOT)} is missing")
    seen: set[str] = set()
    for alert in alerts:
        name = alert["alert"]
        if name in seen:
            problems.append(f"{name}: defined twice")
        seen.add(name)
        if name not in fires:
            problems.append(f"{name}: no test case where it fires")
        if name not in silent:
            problems.append(f"{name}: no test case where it stays silent")
        if not alert.get("labels", {}).get("severity"):
            problems.append(f"{name}: no severity label")
        annotations = alert.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            if not annotations.get(key):
                problems.append(f"{name}: no {key} annotation")
        url = annotations.get("runbook_url", "")
        expected = f"docs/operations.md#{github_anchor(name)}"
        if url != expected:
            problems.append(f"{name}: runbook_url is {url!r}, expected {expected!r}")
        if headings and github_anchor(name) not in headings:
            problems.append(f"{name}: docs/operations.md has no heading '{name}'")
    for name in sorted((fires | silent) - seen):
        problems.append(f"alerts_test.yml tests {name}, which alerts.yml does not define")


def check_dashboards(problems: list[str]) -> None:
    uids: dict[str, str] = {}
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        uid = dashboard.get("uid", "")
        if uid in uids:
            problems.append(f"{path.name}: uid {uid} also in {uids[uid]}")
        uids[uid] = path.name
        ids: set[int] = set()
        cells: dict[tuple[int, int], str] = {}

        def visit(panels: list[dict]) -> None:
            for panel in panels:
                title = panel.get("title", "?")
                if panel.get("id") in ids:
                    problems.append(f"{path.name}: panel id {panel.get('id')} used twice")
                ids.add(panel.get("id"))
                pos = panel.get("gridPos", {})
                for dx in range(pos.get("w", 0)):
                    for dy in range(pos.get("h", 0)):
                        cell = (pos.get("x", 0) + dx, pos.get("y", 0) + dy)
                        if cell in cells:
                            problems.append(
                                f"{path.name}: '{title}' overlaps '{cells[cell]}' at {cell}"
                            )
                            break
                        cells[cell] = title
                    else:
                        continue
                    break
                # A collapsed row's panels are laid out when it opens; check their ids only.
                for inner in panel.get("panels", []):
                    if inner.get("id") in ids:
                        problems.append(f"{path.name}: panel id {inner.get('id')} used twice")
                    ids.add(inner.get("id"))

        visit(dashboard.get("panels", []))


def main() -> int:
    problems: list[str] = []
    check_alerts(problems)
    check_dashboards(problems)
    for problem in problems:
        print(f"FAIL {problem}")
    if problems:
        return 1
    print("monitoring: every alert tested both ways and documented; dashboards laid out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
