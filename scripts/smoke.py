#!/usr/bin/env python3
"""Checks, through the gateway, what a newcomer should see after `make run` and `make seed-data`.

For the seeded user (SEED_EMAIL / SEED_PASSWORD, as scripts/seed-data.py), waits up to
SMOKE_TIMEOUT_SECS (default 180) until all of these hold, then prints them; fails naming
whatever never did:
  - a forecast for this month with status ok and 80 % and 95 % intervals around the projection;
  - at least one open anomaly;
  - at least one detected subscription, and the streaming service's price rise;
  - a model comparison: several candidates with backtest metrics, one chosen;
  - a monthly summary email in the mail sink (MAIL_SINK_API, default http://127.0.0.1:1080).
Python 3 standard library only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
import urllib.error
import urllib.request

GATEWAY = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080").rstrip("/")
API = f"{GATEWAY}/api/v1"
SINK = os.environ.get("MAIL_SINK_API", "http://127.0.0.1:1080").rstrip("/")
EMAIL = os.environ.get("SEED_EMAIL", "demo@budgetsmart.localhost")
PASSWORD = os.environ.get("SEED_PASSWORD", "budgetsmart-demo-2026")
TIMEOUT = float(os.environ.get("SMOKE_TIMEOUT_SECS", "180"))


def get(url: str, token: str | None = None) -> object:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
        return json.loads(response.read())


def login() -> str:
    body = json.dumps({"email": EMAIL, "password": PASSWORD}).encode()
    request = urllib.request.Request(f"{API}/auth/login", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["access_token"]


def forecast(token: str) -> str | None:
    # The seeded user's time zone is UTC, the services' default.
    month = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m")
    f = get(f"{API}/analytics/forecast?month={month}", token)
    if f.get("status") != "ok":
        return None
    low80, high80 = float(f["interval_80"]["lower"]), float(f["interval_80"]["upper"])
    low95, high95 = float(f["interval_95"]["lower"]), float(f["interval_95"]["upper"])
    projected = float(f["projected_total"])
    assert low95 <= low80 <= projected <= high80 <= high95, f"intervals do not nest: {f}"
    return (f"forecast {month}: {f['projected_total']} {f['currency']} (80 % {low80:.2f}-{high80:.2f}, "
            f"95 % {low95:.2f}-{high95:.2f}), P(over budget) {f['probability_over_budget']}, model {f['model']}")


def anomalies(token: str) -> str | None:
    found = get(f"{API}/analytics/anomalies", token)["data"]
    if not found:
        return None
    kinds = sorted({a["kind"] for a in found})
    return f"anomalies: {len(found)} ({', '.join(kinds)}), e.g. {found[0]['explanation']}"


def subscriptions(token: str) -> str | None:
    found = [r for r in get(f"{API}/analytics/recurring", token)["data"] if r.get("kind") == "subscription"]
    rises = [r for r in found if r["price_changes"]]
    if not found or not rises:
        return None
    change = rises[0]["price_changes"][-1]
    return (f"subscriptions: {len(found)}; {rises[0]['merchant']} rose from {change['from']} "
            f"to {change['to']} on {change['on']}")


def models(token: str) -> str | None:
    series = get(f"{API}/analytics/models", token)["data"]
    total = [s for s in series if s["series"].startswith("total:")]
    if not total or len(total[0]["candidates"]) < 2:
        return None
    s = total[0]
    scored = [c for c in s["candidates"] if c.get("smape") is not None]
    if not scored:
        return None
    best = min(scored, key=lambda c: c["smape"])
    return (f"models: {len(series)} series; {s['series']} chose {s['chosen']} among "
            f"{len(s['candidates'])} candidates (lowest sMAPE {best['model']} {best['smape']})")


def summary_email(_token: str) -> str | None:
    for mail in get(f"{SINK}/api/email"):
        to = [t.get("address", "").lower() for t in mail.get("to", [])]
        if EMAIL.lower() in to and "summary" in mail.get("subject", "").lower():
            return f"email: \"{mail['subject']}\" to {EMAIL}"
    return None


CHECKS = {"forecast": forecast, "anomaly": anomalies, "subscription": subscriptions,
          "model comparison": models, "monthly summary email": summary_email}


def attempt(check, token: str) -> str | None:
    """A check's finding, or None while the answer is not there yet (or the call failed)."""
    try:
        return check(token)
    except (urllib.error.URLError, TimeoutError, KeyError, ValueError) as error:
        print(f"    not yet ({check.__name__}): {error}", file=sys.stderr)
        return None


def main() -> int:
    seen: dict[str, str] = {}
    deadline = time.monotonic() + TIMEOUT
    token, token_at = login(), time.monotonic()
    while len(seen) < len(CHECKS) and time.monotonic() < deadline:
        if time.monotonic() - token_at > 600:  # access tokens last 15 minutes
            token, token_at = login(), time.monotonic()
        for name, check in CHECKS.items():
            if name not in seen:
                result = attempt(check, token)
                if result:
                    seen[name] = result
                    print(f"ok  {result}")
        if len(seen) < len(CHECKS):
            time.sleep(2)
    missing = [name for name in CHECKS if name not in seen]
    if missing:
        print(f"FAILED: never saw {', '.join(missing)} within {TIMEOUT:.0f} s", file=sys.stderr)
        return 1
    print("smoke: everything a newcomer should see is there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
