#!/usr/bin/env python3
"""Runs every Grafana panel query of the repository's dashboards against a Prometheus.

    python3 infrastructure/monitoring/panel_queries.py http://127.0.0.1:9090
    python3 infrastructure/monitoring/panel_queries.py --list

Reads every *.json under grafana/dashboards (next to this script), takes each panel target's
`expr` (rows' nested panels too), replaces Grafana's variables ($__rate_interval and
$__interval by 1m, $__range by 1h, a dashboard variable by its "All" value) and sends it to
<base>/api/v1/query as an instant query. Exits 1 and lists every expr that failed or returned
no series; exits 0 when each returned at least one. With --list it only prints the exprs.

A query that returns nothing is either wrong (a typo, a label that does not exist) or reads a
metric no service exports yet; both are worth knowing. Counters that appear only after their
first event are written with `or vector(0)` in the dashboards, so a quiet system passes.
Python 3.11, standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

DASHBOARDS = Path(__file__).resolve().parent / "grafana" / "dashboards"

# Grafana's built-in variables, with the values a check needs (scrape interval 15 s).
BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__interval_ms": "60000",
    "__auto": "1m",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}

# ${name}, ${name:format}, [[name]], [[name:format]] and $name.
VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")


@dataclass
class Query:
    dashboard: str
    panel: str
    ref_id: str
    expr: str
    resolved: str = ""
    problem: str = ""


def variable_values(dashboard: dict) -> dict[str, str]:
    """Each dashboard variable's value for a check: its "All" value, else what is selected."""
    values: dict[str, str] = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        name = variable.get("name")
        if not name:
            continue
        if variable.get("includeAll"):
            all_value = variable.get("allValue")
            if all_value:
                values[name] = all_value
                continue
            options = [
                str(o.get("value"))
                for o in variable.get("options", [])
                if o.get("value") not in (None, "$__all")
            ]
            values[name] = "|".join(options) if options else ".*"
            continue
        current = variable.get("current", {}).get("value")
        if isinstance(current, list):
            current = "|".join(str(v) for v in current)
        values[name] = str(current) if current not in (None, "") else ".*"
    return values


def resolve(expr: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """The expr with every variable replaced, and the names it did not know."""
    unknown: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name in BUILTINS:
            return BUILTINS[name]
        if name in values:
            return values[name]
        unknown.append(name)
        return match.group(0)

    return VARIABLE.sub(replace, expr), unknown


def panels_of(panels: list[dict]):
    for panel in panels:
        yield panel
        # A collapsed row keeps its panels inside it.
        yield from panels_of(panel.get("panels", []))


def collect(directory: Path) -> list[Query]:
    queries: list[Query] = []
    files = sorted(directory.glob("*.json"))
    if not files:
        raise SystemExit(f"no dashboard JSON in {directory}")
    for path in files:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        values = variable_values(dashboard)
        for panel in panels_of(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                expr = target.get("expr")
                if not expr or target.get("hide"):
                    continue
                query = Query(path.name, panel.get("title", "?"), target.get("refId", "?"), expr)
                query.resolved, unknown = resolve(expr, values)
                if unknown:
                    query.problem = "unknown variable(s): " + ", ".join(sorted(set(unknown)))
                queries.append(query)
    return queries


def run(base: str, query: Query, timeout: float) -> str:
    """'' when the query returned at least one series, else what went wrong."""
    url = base.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": query.resolved})
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.load(response)
    except urllib.error.HTTPError as error:
        # Prometheus answers 400 with a JSON body for a query it cannot parse.
        try:
            detail = json.load(error).get("error", "")
        except (ValueError, AttributeError):
            detail = ""
        return f"HTTP {error.code}: {detail}".strip()
    except (urllib.error.URLError, TimeoutError, ValueError) as error:
        return f"request failed: {error}"
    if body.get("status") != "success":
        return f"error: {body.get('error', body)}"
    data = body.get("data", {})
    result = data.get("result")
    if data.get("resultType") in ("scalar", "string"):
        return ""
    if not result:
        return "no series"
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prometheus", nargs="?", help="base URL, e.g. http://127.0.0.1:9090")
    parser.add_argument("--list", action="store_true", help="only print the exprs")
    parser.add_argument("--dashboards", type=Path, default=DASHBOARDS, help="folder of dashboard JSON")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per query")
    args = parser.parse_args()

    queries = collect(args.dashboards)
    if args.list:
        for q in queries:
            print(f"{q.dashboard} | {q.panel} [{q.ref_id}]\n    {q.expr}")
        return 0
    if not args.prometheus:
        parser.error("give the Prometheus base URL, or --list")

    failed = []
    for q in queries:
        problem = q.problem or run(args.prometheus, q, args.timeout)
        if problem:
            failed.append((q, problem))
    print(f"{len(queries) - len(failed)} of {len(queries)} panel queries returned series")
    for q, problem in failed:
        print(f"FAIL {q.dashboard} | {q.panel} [{q.ref_id}]: {problem}\n    {q.resolved}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
