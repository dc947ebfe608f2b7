#!/usr/bin/env python3
"""Seeds the fuzzed account for `make fuzz-api` and prints `export NAME=value` lines for
scripts/test/schemathesis.toml: real ids, cursors and a credential, so that generated requests
reach the logic behind the validation instead of a 404 or a refused token.

Registers and verifies the account (the link from the mail sink), logs in twice, creates two
budgets, imports five months with a subscription, rent and pay, and today an outlier and a
double charge, so that analytics finds recurring payments and anomalies, and takes a cursor
from every list.
Python 3 standard library only.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
import urllib.error

from fuzz_client import PASSWORD, Failed, call, login, mail_token, new_email, register

EMAIL = new_email("fuzz")


def cursor(path: str, token: str) -> str:
    page = call("GET", f"{path}{'&' if '?' in path else '?'}limit=1", token)
    return page.get("next_cursor") or ""


def main() -> None:
    register(EMAIL)
    unsubscribe = mail_token(EMAIL, "unsubscribe?token=")
    token = login(EMAIL)["access_token"]
    # A second session, so the list of sessions has a page after the first.
    login(EMAIL)

    categories = {c["name"]: c["id"] for c in call("GET", "/categories", token)["data"]}
    today = dt.date.today()
    # Five whole months before this one: no row dated in the future.
    months = [(today.replace(day=1) - dt.timedelta(days=28 * back)).replace(day=1) for back in range(5, 0, -1)]
    for m in months[-2:]:
        call("POST", "/budgets", token, {"month": m.strftime("%Y-%m"), "currency": "USD", "total_limit": "900.00"})
    # Two goals (a page after the first), one with contributions to list.
    goal = call("POST", "/goals", token, {"name": "Rainy day", "target_amount": "2000.00", "currency": "USD"})
    for m in months:
        call("POST", f"/goals/{goal['id']}/contributions", token, {"amount": "120.00", "occurred_on": str(m)})
    call("POST", "/goals", token, {"name": "Trip", "target_amount": "900.00", "currency": "EUR"})
    rows = ["date,description,amount,currency,category"]
    for month in months:
        rows.append(f"{month.replace(day=3)},Netflix,-15.49,USD,Entertainment")
        rows.append(f"{month.replace(day=5)},Maple Street Rent,-1450.00,USD,Housing")
        rows.append(f"{month.replace(day=25)},Acme Payroll,3200.00,USD,Salary")
        for day in (2, 9, 16, 23):
            rows.append(f"{month.replace(day=day)},Whole Foods Market,-{60 + day}.40,USD,Groceries")
    # Today (analytics flags what is recent): a first charge far above the usual, and the same
    # charge twice.
    rows.append(f"{today},Aurum Luxury Watches,-2450.00,USD,Shopping")
    rows.append(f"{today},Olive Garden,-64.30,USD,Dining")
    rows.append(f"{today},Olive Garden,-64.30,USD,Dining")
    imported = call("POST", "/transactions/import", token, "\n".join(rows) + "\n", content_type="text/csv")
    if imported.get("errors"):
        sys.exit(f"fuzz-seed: the import refused rows: {imported['errors'][:3]}")
    # A second import (a page of imports after the first) into an account of the account's own.
    account = call("POST", "/accounts", token, {"name": "Checking", "currency": "USD", "type": "checking"})
    call("POST", f"/transactions/import?account_id={account['id']}", token,
         f"date,description,amount,currency\n{today},Corner shop,-3.10,USD\n", content_type="text/csv")

    deadline = time.monotonic() + 90
    anomalies = recurring = []
    while time.monotonic() < deadline and not (anomalies and recurring):
        anomalies = call("GET", "/analytics/anomalies", token)["data"]
        recurring = call("GET", "/analytics/recurring", token)["data"]
        time.sleep(1)
    if not (anomalies and recurring):
        sys.exit("fuzz-seed: analytics found no anomaly or recurring payment in 90 s")

    values = {
        "FUZZ_EMAIL": EMAIL,
        "FUZZ_PASSWORD": PASSWORD,
        "FUZZ_TOKEN": token,
        "FUZZ_CATEGORY_ID": categories["Groceries"],
        "FUZZ_UNSUBSCRIBE_TOKEN": unsubscribe,
        "FUZZ_CURSOR_TRANSACTIONS": cursor("/transactions", token),
        "FUZZ_CURSOR_BUDGETS": cursor("/budgets", token),
        "FUZZ_CURSOR_AUDIT": cursor("/me/audit", token),
        "FUZZ_CURSOR_NOTIFICATIONS": cursor("/notifications", token),
        "FUZZ_CURSOR_ANOMALIES": cursor("/analytics/anomalies", token),
        "FUZZ_CURSOR_GOALS": cursor("/goals", token),
        "FUZZ_CURSOR_IMPORTS": cursor("/imports", token),
    }
    for name, value in values.items():
        print(f"export {name}='{value}'")


if __name__ == "__main__":
    try:
        main()
    except urllib.error.HTTPError as error:
        sys.exit(f"fuzz-seed: {error.code} from {error.url}: {error.read()[:300]!r}")
    except Failed as error:
        sys.exit(f"fuzz-seed: {error}")
