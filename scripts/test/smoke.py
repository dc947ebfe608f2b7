#!/usr/bin/env python3
"""Checks, through the gateway, what a newcomer should see after `make run` and `make seed-data`.

For the seeded user (SEED_EMAIL / SEED_PASSWORD, as scripts/dev/seed-data.py), waits up to
SMOKE_TIMEOUT_SECS (default 180) until all of these hold, then prints them; fails naming
whatever never did (with the last reason it did not hold):
  - a forecast for this month with status ok and 80 % and 95 % intervals around the projection;
  - at least one open anomaly;
  - at least one detected subscription, and the streaming service's price rise;
  - a model comparison: several candidates with backtest metrics, one chosen;
  - a monthly summary email in the mail sink (MAIL_SINK_API, default http://127.0.0.1:1080);
and that the answers make sense to a person:
  - recurring payments: the rent (MAPLE STREET PROPERTIES) is there with kind housing; the
    trips' airline and hotel, last year's Black Friday shop and last December's sofa shop are
    not; every entry has a known kind and status, and every active one its next date,
    expected amount and an explanation;
  - insights: at least one; each with a numeric relevance and an evidence field, the feed in
    descending relevance, no two with the same kind and title, and no savings opportunity
    about the rent (its merchant, or the Housing, Rent or Utilities category);
  - the forecast for this month: components recurring_due, regular and one_off_allowance as
    decimal strings, an explanation, excluded_one_offs a list, and a projected total below
    the spending to date plus three times the median monthly spending of the twelve complete
    months before; in December also a Shopping projection below half of last December's
    Shopping (which holds the one-off sofa), from /analytics/summary.
These three are checked once more after everything has held, so a late insight or rescan
that breaks them still fails the run. The seeded names come from scripts/dev/seed-data.py.
Python 3 standard library only.
"""

from __future__ import annotations

import collections
import datetime as dt
import importlib.util
import json
import math
import os
import re
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

GATEWAY = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080").rstrip("/")
API = f"{GATEWAY}/api/v1"
SINK = os.environ.get("MAIL_SINK_API", "http://127.0.0.1:1080").rstrip("/")
EMAIL = os.environ.get("SEED_EMAIL", "demo@budgetsmart.localhost")
PASSWORD = os.environ.get("SEED_PASSWORD", "budgetsmart-demo-2026")
TIMEOUT = float(os.environ.get("SMOKE_TIMEOUT_SECS", "180"))


def load_seed():
    """scripts/dev/seed-data.py as a module, for the names and helpers it seeds with."""
    sys.dont_write_bytecode = True  # no compiled copy left next to the scripts
    seed = Path(__file__).resolve().parent.parent / "dev" / "seed-data.py"
    spec = importlib.util.spec_from_file_location("seed_data", seed)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SEED = load_seed()
RECURRING_KINDS = {"subscription", "bill", "housing", "loan", "income"}
RECURRING_STATUSES = {"active", "late", "ended"}
DECIMAL = re.compile(r"^\d+(\.\d+)?$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class NotYet(Exception):
    """An answer that does not make sense (yet): the reason."""


def require(condition: object, reason: str) -> None:
    if not condition:
        raise NotYet(reason)


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


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def same_merchant(merchant: str, seeded: str) -> bool:
    """Whether the analytics' merchant is the seeded one: the analytics keep the name's first
    words ("maple street" for "MAPLE STREET PROPERTIES"), so one must begin the other."""
    a, b = words(merchant), words(seeded)
    n = min(len(a), len(b))
    return n > 0 and a[:n] == b[:n]


def is_decimal(value: object) -> bool:
    return isinstance(value, str) and bool(DECIMAL.match(value))


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def recurring_sense(token: str) -> str | None:
    found = get(f"{API}/analytics/recurring", token)["data"]
    rent = [r for r in found if same_merchant(r["merchant"], SEED.RENT)]
    require(rent, f"the rent ({SEED.RENT}) is not among {len(found)} recurring payments")
    rent = rent[0]
    require(rent.get("kind") == "housing", f"the rent ({rent['merchant']}) has kind {rent.get('kind')!r}, not housing")
    one_offs = {"flight": SEED.FLIGHT, "hotel": SEED.HOTEL, "Black Friday shop": SEED.BLACK_FRIDAY_SHOP,
                "one-off sofa": SEED.BIG_PURCHASE}
    for what, name in one_offs.items():
        wrong = [r["merchant"] for r in found if same_merchant(r["merchant"], name)]
        require(not wrong, f"the {what} ({name}) is listed as recurring: {wrong[0] if wrong else ''}")
    for r in found:
        label = f"recurring {r['merchant']!r}"
        require(r.get("kind") in RECURRING_KINDS, f"{label} has kind {r.get('kind')!r}")
        require(r.get("status") in RECURRING_STATUSES, f"{label} has status {r.get('status')!r}")
        if r.get("active") is True or r.get("status") == "active":
            require(isinstance(r.get("next_expected"), str) and DATE.match(r["next_expected"]),
                    f"active {label} has next_expected {r.get('next_expected')!r}")
            require(is_decimal(r.get("expected_amount")),
                    f"active {label} has expected_amount {r.get('expected_amount')!r}")
            require(isinstance(r.get("explanation"), str) and r["explanation"].strip(),
                    f"active {label} has no explanation")
    kinds = collections.Counter(r["kind"] for r in found)
    return (f"recurring: {len(found)} ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}); "
            f"rent {rent['merchant']} is housing, {rent.get('expected_amount')} {rent.get('currency')} "
            f"next on {rent.get('next_expected')} (\"{rent.get('explanation')}\"); no flight, hotel, "
            f"Black Friday shop or sofa shop among them; every active one dated, priced and explained")


def insights_feed(token: str) -> list[dict]:
    feed: list[dict] = []
    cursor = None
    for _ in range(20):
        query = "limit=200" + (f"&cursor={urllib.parse.quote(cursor, safe='')}" if cursor else "")
        page = get(f"{API}/insights?{query}", token)
        feed.extend(page["data"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return feed


def insights_sense(token: str) -> str | None:
    feed = insights_feed(token)
    require(feed, "no insights yet")
    for i in feed:
        require(is_number(i.get("relevance")), f"insight {i.get('title')!r} has relevance {i.get('relevance')!r}")
        require(i.get("evidence") is not None, f"insight {i.get('title')!r} has no evidence")
    relevances = [i["relevance"] for i in feed]
    require(all(a >= b for a, b in zip(relevances, relevances[1:])),
            f"the feed is not sorted by relevance: {relevances[:10]}")
    twice = [key for key, n in collections.Counter((i["kind"], i["title"]) for i in feed).items() if n > 1]
    require(not twice, f"insights repeated: {twice[:3]}")
    rent = " ".join(words(SEED.RENT)[:2])
    about_rent = re.compile(rf"{re.escape(rent)}|\b(housing|rent|utilities)\b", re.IGNORECASE)
    for i in feed:
        if i["kind"] == "savings_opportunity":
            text = f"{i.get('title') or ''} {i.get('body') or ''}"
            require(not about_rent.search(text), f"a savings opportunity about rent or utilities: {i.get('title')!r}")
    kinds = collections.Counter(i["kind"] for i in feed)
    return (f"insights: {len(feed)} ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}), by relevance "
            f"{relevances[0]} to {relevances[-1]}, each with evidence, none repeated, no savings "
            f"opportunity on rent or utilities; top: \"{feed[0]['title']}\"")


def spent_by(token: str, first: dt.date, last: dt.date, group_by: str) -> dict[str, float]:
    s = get(f"{API}/analytics/summary?from={first}&to={last}&group_by={group_by}", token)
    return {g["key"]: float(g["spent"]) for g in s["groups"]}


def forecast_sense(token: str) -> str | None:
    today = dt.datetime.now(dt.timezone.utc).date()
    month = today.strftime("%Y-%m")
    f = get(f"{API}/analytics/forecast?month={month}", token)
    require(f.get("status") == "ok", f"forecast status {f.get('status')!r}")
    parts = f.get("components")
    require(isinstance(parts, dict), f"forecast components {parts!r}")
    for key in ("recurring_due", "regular", "one_off_allowance"):
        require(is_decimal(parts.get(key)), f"forecast component {key} is {parts.get(key)!r}")
    require(isinstance(f.get("explanation"), str) and f["explanation"].strip(), "the forecast has no explanation")
    require(isinstance(f.get("excluded_one_offs"), list), f"excluded_one_offs is {f.get('excluded_one_offs')!r}")
    # The twelve complete months before this one.
    this_month = SEED.month_start(today, 0)
    monthly = spent_by(token, SEED.month_start(today, 12), this_month - dt.timedelta(days=1), "month")
    require(monthly, "no monthly spending in the last twelve months")
    median = statistics.median(monthly.values())
    projected, spent = float(f["projected_total"]), float(f["spent_to_date"])
    bound = spent + 3 * median
    require(projected < bound, f"projected {projected:.2f} is not below spent to date {spent:.2f} + 3 × the "
            f"median month {median:.2f}")
    found = (f"forecast {month} makes sense: {f['projected_total']} = recurring due {parts['recurring_due']} + "
             f"regular {parts['regular']} + one-off allowance {parts['one_off_allowance']} (after "
             f"{f['spent_to_date']} spent; bound {bound:.2f}), {len(f['excluded_one_offs'])} one-offs "
             f"excluded; \"{f['explanation']}\"")
    if today.month == 12:
        categories = {c["name"]: c["id"] for c in get(f"{API}/categories?limit=100", token)["data"]}
        shopping = categories["Shopping"]
        december = spent_by(token, dt.date(today.year - 1, 12, 1), dt.date(today.year - 1, 12, 31), "category")
        last_december = december.get(shopping, 0.0)
        require(last_december >= SEED.BIG_PURCHASE_AMOUNT,
                f"last December's Shopping is {last_december:.2f}, without the seeded sofa")
        projection = [c for c in f.get("categories", []) if c.get("category_id") == shopping]
        require(projection, "the forecast has no Shopping projection")
        shopping_projected = float(projection[0]["projected"])
        require(shopping_projected < 0.5 * last_december,
                f"Shopping is projected at {shopping_projected:.2f}, inflated by last December's "
                f"{last_december:.2f} (which holds a one-off)")
        found += (f"; Shopping projected {shopping_projected:.2f} against last December's "
                  f"{last_december:.2f} with its one-off sofa")
    return found


def summary_email(_token: str) -> str | None:
    for mail in get(f"{SINK}/api/email"):
        to = [t.get("address", "").lower() for t in mail.get("to", [])]
        if EMAIL.lower() in to and "summary" in mail.get("subject", "").lower():
            return f"email: \"{mail['subject']}\" to {EMAIL}"
    return None


CHECKS = {"forecast": forecast, "anomaly": anomalies, "subscription": subscriptions,
          "model comparison": models, "monthly summary email": summary_email,
          "recurring payments make sense": recurring_sense, "insights make sense": insights_sense,
          "forecast makes sense": forecast_sense}
# Checked again once everything has held: a later insight or rescan must not break them.
RECHECK = ("recurring payments make sense", "insights make sense", "forecast makes sense")
# Why each check does not hold yet, printed when it changes and named on failure.
REASONS: dict[str, str] = {}


def attempt(check, token: str) -> str | None:
    """A check's finding, or None while the answer is not there yet (or the call failed)."""
    try:
        return check(token)
    except (urllib.error.URLError, TimeoutError, KeyError, ValueError, TypeError, NotYet) as error:
        reason = str(error) if isinstance(error, NotYet) else f"{type(error).__name__}: {error}"
        if REASONS.get(check.__name__) != reason:
            print(f"    not yet ({check.__name__}): {reason}", file=sys.stderr)
        REASONS[check.__name__] = reason
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
        for name in missing:
            print(f"  {name}: {REASONS.get(CHECKS[name].__name__, 'no answer')}", file=sys.stderr)
        print(f"FAILED: never saw {', '.join(missing)} within {TIMEOUT:.0f} s", file=sys.stderr)
        return 1
    token = login()
    broken = [name for name in RECHECK if not attempt(CHECKS[name], token)]
    if broken:
        for name in broken:
            print(f"  {name}: {REASONS.get(CHECKS[name].__name__, 'no answer')}", file=sys.stderr)
        print(f"FAILED: {', '.join(broken)} no longer held on a second look", file=sys.stderr)
        return 1
    print("smoke: everything a newcomer should see is there, and makes sense")
    return 0


if __name__ == "__main__":
    sys.exit(main())
