#!/usr/bin/env python3
"""Renders prometheus/alerts.yml as a Prometheus Operator PrometheusRule.

    python3 infrastructure/monitoring/render_prometheusrule.py          # rewrite the manifest
    python3 infrastructure/monitoring/render_prometheusrule.py --check  # exit 1 if it is stale

alerts.yml is the source: promtool checks and tests it. The manifest
(kubernetes/prometheusrule.yaml) carries the same groups under spec.groups, so the cluster
evaluates exactly the tested rules; --check fails when someone edited one and not the other.
Needs PyYAML (in the lint venv through kubernetes-validate, or `pip install PyYAML`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the environment
    sys.exit("render_prometheusrule.py needs PyYAML: pip install PyYAML")

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "prometheus" / "alerts.yml"
TARGET = HERE / "kubernetes" / "prometheusrule.yaml"

HEADER = """\
# GENERATED from infrastructure/monitoring/prometheus/alerts.yml by
# infrastructure/monitoring/render_prometheusrule.py. Do not edit: change alerts.yml, then run
#   python3 infrastructure/monitoring/render_prometheusrule.py
#
# A PrometheusRule for the Prometheus Operator (kube-prometheus-stack and the like). Include it
# from an overlay's kustomization.yaml (resources:), which sets its namespace. The operator
# only loads rules its Prometheus selects: set the labels below to your Prometheus's
# ruleSelector (PLACEHOLDER: kube-prometheus-stack selects `release: <its Helm release>` by
# default). The runbook_url annotations are paths in the repository (docs/operations.md#...);
# prefix them with your repository's web address if your alert receiver needs full URLs.
"""


class _Dumper(yaml.SafeDumper):
    """Indents block sequences under their key, as yamllint's default wants."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):  # noqa: D401
        return super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str):
    # Multi-line PromQL stays a literal block, as in alerts.yml; long text is folded.
    if "\n" in value:
        style = "|"
    elif len(value) > 60:
        style = ">"
    else:
        style = None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render() -> str:
    source = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    groups = source.get("groups")
    if not isinstance(groups, list) or not groups:
        raise SystemExit(f"{SOURCE}: no groups")
    manifest = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "budgetsmart-alerts",
            "labels": {
                "app.kubernetes.io/name": "budgetsmart-alerts",
                "app.kubernetes.io/component": "monitoring",
                # PLACEHOLDER: your Prometheus's ruleSelector labels.
                "prometheus": "budgetsmart",
            },
        },
        "spec": {"groups": groups},
    }
    body = yaml.dump(manifest, Dumper=_Dumper, sort_keys=False, width=80, allow_unicode=True)
    return HEADER + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the manifest is stale")
    args = parser.parse_args()
    rendered = render()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        same_text = current == rendered
        same_rules = (
            current != ""
            and yaml.safe_load(current)["spec"]["groups"]
            == yaml.safe_load(SOURCE.read_text(encoding="utf-8"))["groups"]
        )
        if not (same_text and same_rules):
            print(f"{TARGET} is stale: run {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{TARGET.name}: spec.groups equal alerts.yml's groups")
        return 0
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(rendered, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
