#!/usr/bin/env python3
"""`make seed-data`: a demo user with 18 months of realistic money, through the public API.

Everything goes through the gateway, as a client would: register, log in, one CSV import of
the checking account's history, then the credit card's OFX statement (the last two months of
dining and shopping) and the travel euro account's CAMT.053 statement (a week in Lisbon), which
make two accounts; budgets, goals, then a monthly summary email. Analytics and notifications take it from
there (models, forecasts, anomalies, subscriptions, emails in the sink).

The history is generated from a fixed seed, ending today:
  - salary on the 25th (the Friday before when it falls on a weekend), rent to
    MAPLE STREET PROPERTIES on the 1st (Housing);
  - utilities: electricity that follows the seasons (winter heating, summer cooling), fixed
    internet and phone bills;
  - weekly groceries, dining, fuel, rides and a few small shopping orders, with everyday noise;
  - subscriptions, one of which (the streaming service) rises in price six months ago;
  - one-offs: two trips a year apart, fifteen and three months ago (DELTA AIR LINES and
    MARRIOTT both times, at clearly different prices), last year's Black Friday at BEST BUY,
    and one 2,399.00 sofa at WEST ELM last December (the December before this month), which
    makes that month's Shopping several times the usual; modest holiday gifts every December;
  - all in the default categories (Salary, Housing, Utilities, Subscriptions, Shopping, Travel, …);
  - three planted anomalies: a grocery bill far above the usual one, a large first charge at
    an unknown merchant, and a double charge at a restaurant.

Settings (environment): GATEWAY_URL (default http://127.0.0.1:8080), SEED_EMAIL (default
demo@budgetsmart.localhost), SEED_PASSWORD. Running it again is safe: the import and the
budgets are skipped when already there (so a run that stopped half-way can be finished), and
the summary is requested again. Python 3 standard library only.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import email.utils
import io
import json
import os
import random
import re
import sys
import time
import urllib.error
import urllib.request
import uuid

GATEWAY = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080").rstrip("/")
API = f"{GATEWAY}/api/v1"
EMAIL = os.environ.get("SEED_EMAIL", "demo@budgetsmart.localhost")
PASSWORD = os.environ.get("SEED_PASSWORD", "budgetsmart-demo-2026")
MAIL_SINK = os.environ.get("MAIL_SINK_API", "http://127.0.0.1:1080").rstrip("/")
MONTHS = 18
CURRENCY = "USD"


class ApiError(Exception):
    def __init__(self, status: int, body: object):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def call(method: str, path: str, token: str | None = None, body: object = None,
         content_type: str = "application/json") -> object:
    data = None
    headers = {"Accept": "application/json"}
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if method == "POST":
        headers["Idempotency-Key"] = str(uuid.uuid4())
    request = urllib.request.Request(f"{API}{path}", data=data, method=method, headers=headers)
    for attempt in range(5):
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                raw = response.read()
                return json.loads(raw) if raw else None
        except (TimeoutError, ConnectionError) as error:
            # Safe to resend: a POST carries the same Idempotency-Key.
            if attempt < 4:
                time.sleep(2)
                continue
            raise urllib.error.URLError(error) from None
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
            # Rate limits and a backend still starting are worth waiting for.
            if error.code in (429, 503) and attempt < 4:
                time.sleep(retry_after(error.headers.get("Retry-After")))
                continue
            raise ApiError(error.code, parsed) from None
    raise AssertionError("unreachable")


def retry_after(value: str | None) -> float:
    """Seconds from a Retry-After header (seconds or an HTTP date), 2 when absent or odd."""
    if not value:
        return 2.0
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())
        except (TypeError, ValueError):
            return 2.0


def month_start(day: dt.date, back: int) -> dt.date:
    """The first day of the month `back` months before `day`'s."""
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def black_friday(year: int) -> dt.date:
    """The day after the fourth Thursday of November."""
    first = dt.date(year, 11, 1)
    thursday = first + dt.timedelta(days=(3 - first.weekday()) % 7 + 21)
    return thursday + dt.timedelta(days=1)


def payday(year: int, month: int) -> dt.date:
    """The 25th, or the Friday before when it falls on a weekend."""
    day = dt.date(year, month, 25)
    return day - dt.timedelta(days=max(0, day.weekday() - 4))


# Names shared with scripts/test/smoke.py, which checks what the analytics make of them.
RENT = "MAPLE STREET PROPERTIES"
FLIGHT = "DELTA AIR LINES"
HOTEL = "MARRIOTT"
BLACK_FRIDAY_SHOP = "BEST BUY"
BIG_PURCHASE = "WEST ELM"
BIG_PURCHASE_AMOUNT = 2399.00

# The electricity bill by month: heating in winter, air conditioning in summer, mild seasons
# in between, so that it moves by at most about a quarter from one month to the next.
ELECTRIC = {1: 142, 2: 131, 3: 108, 4: 88, 5: 79, 6: 95, 7: 114, 8: 121, 9: 97, 10: 86, 11: 104, 12: 126}

GIFT_SHOPS = ["Etsy", "Barnes & Noble", "Macy's", "Williams-Sonoma", "LEGO Store", "Sephora"]


def history(today: dt.date) -> list[tuple[dt.date, str, str, str]]:
    """(date, description, signed amount, category) rows, oldest first, none after today."""
    rng = random.Random(20261202)
    rows: list[tuple[dt.date, str, float, str]] = []

    def add(day: dt.date, description: str, amount: float, category: str) -> None:
        if day <= today:
            rows.append((day, description, round(amount, 2), category))

    first = month_start(today, MONTHS - 1)
    last_year = today.year - 1
    for back in range(MONTHS - 1, -1, -1):
        start = month_start(today, back)
        year, month = start.year, start.month
        days = calendar.monthrange(year, month)[1]
        on = lambda d: dt.date(year, month, min(d, days))  # noqa: E731
        months_ago = back

        add(payday(year, month), "ACME Corp payroll", 4250.00, "Salary")
        add(on(1), RENT, -1450.00, "Housing")
        add(on(12), "City Power & Light", -(ELECTRIC[month] + rng.uniform(-3, 3)), "Utilities")
        add(on(8), "FiberNet Internet", -59.99, "Utilities")
        add(on(18), "Verizon Wireless", -85.00, "Utilities")
        # Subscriptions: fixed prices; the streaming service raised its price six months ago.
        add(on(15), "Netflix", -(17.99 if months_ago < 6 else 15.49), "Subscriptions")
        add(on(3), "Spotify", -10.99, "Subscriptions")
        add(on(20), "iCloud storage", -2.99, "Subscriptions")
        add(on(5), "FitLife gym membership", -39.00, "Health")

        # Weekly groceries on Saturdays, two stores.
        day = start
        while day.month == month:
            if day.weekday() == 5:
                store = rng.choice(["Whole Foods Market", "Trader Joe's"])
                add(day, store, -rng.uniform(62, 128), "Groceries")
            day += dt.timedelta(days=1)
        for _ in range(rng.randint(6, 9)):
            place, low, high = rng.choice(
                [("Blue Bottle Coffee", 4.5, 7.5), ("Chipotle", 11, 16), ("Olive Garden", 38, 72)]
            )
            add(on(rng.randint(1, days)), place, -rng.uniform(low, high), "Dining")
        for d in (rng.randint(2, 13), rng.randint(15, 27)):
            add(on(d), "Shell gas station", -rng.uniform(38, 56), "Transportation")
        for _ in range(rng.randint(1, 3)):
            add(on(rng.randint(1, days)), "Uber", -rng.uniform(14, 32), "Transportation")
        if rng.random() < 0.5:
            add(on(rng.randint(1, days)), "CVS Pharmacy", -rng.uniform(9, 35), "Health")
        # Everyday shopping: a few small orders a month.
        for _ in range(rng.randint(1, 3)):
            shop, low, high = rng.choice([("Amazon.com", 12, 68), ("Target", 18, 75)])
            add(on(rng.randint(1, days)), shop, -rng.uniform(low, high), "Shopping")

        # Holiday gifts in December, modest, at other shops each year (the same shop on the
        # same day a year later would look like a yearly payment).
        if month == 12:
            shops = GIFT_SHOPS[year % 2::2]
            for shop in shops:
                add(on(rng.randint(1, 21)), shop, -rng.uniform(30, 90), "Shopping")

    # One-offs. Two trips a year apart, at the same airline and hotel chain but clearly
    # different prices (a short cheap trip, then a longer dear one): not a yearly payment.
    trip = month_start(today, 15)
    add(trip.replace(day=6), f"{FLIGHT} 0067421938455", -612.40, "Travel")
    add(trip.replace(day=14), f"{HOTEL} 33712 SEATTLE WA", -486.75, "Travel")
    trip = month_start(today, 3)
    add(trip.replace(day=6), f"{FLIGHT} 0062209714630", -348.60, "Travel")
    add(trip.replace(day=12), f"{HOTEL} 40118 NEW ORLEANS LA", -1142.30, "Travel")
    # Last year's Black Friday at the electronics shop, once.
    add(black_friday(last_year), f"{BLACK_FRIDAY_SHOP} 00001142", -379.99, "Shopping")
    # Last December (the December before this month): one big piece of furniture, which
    # makes that month's Shopping several times the usual.
    add(dt.date(last_year, 12, 10), f"{BIG_PURCHASE} 0231", -BIG_PURCHASE_AMOUNT, "Shopping")

    # Planted anomalies, recent enough to be on the first page.
    spike = month_start(today, 2)
    add(spike.replace(day=17), "Whole Foods Market", -642.80, "Groceries")
    # Last month, or the month before when last month is the December of the big purchase.
    unknown = month_start(today, 1 if today.month != 1 else 2)
    add(unknown.replace(day=9), "Aurum Luxury Watches", -2450.00, "Shopping")
    double = max(first, today - dt.timedelta(days=3))
    add(double, "Olive Garden", -64.30, "Dining")
    add(double, "Olive Garden", -64.30, "Dining")

    rows.sort(key=lambda r: r[0])
    return [(d, desc, f"{amount:.2f}", category) for d, desc, amount, category in rows]


# A week in Lisbon paid in euros, in March 2026: inside the ECB rates `make run` loads
# (data/rates/eurofxref-hist.csv, November 2025 to April 2026), so each payment is converted
# at its day's reference rate and counted in dollars.
ABROAD = [
    (dt.date(2026, 3, 9), "TAP Air Portugal Lisboa", "-412.00", "Travel"),
    (dt.date(2026, 3, 10), "Hotel Avenida Palace Lisboa", "-684.00", "Travel"),
    (dt.date(2026, 3, 11), "Pasteis de Belem", "-14.40", "Dining"),
    (dt.date(2026, 3, 12), "Time Out Market Lisboa", "-38.50", "Dining"),
    (dt.date(2026, 3, 14), "Pingo Doce Chiado", "-27.83", "Groceries"),
]


def csv_of(rows: list[tuple[dt.date, str, str, str]], abroad: list[tuple[dt.date, str, str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "description", "amount", "currency", "category"])
    for day, description, amount, category in rows:
        writer.writerow([day.isoformat(), description, amount, CURRENCY, category])
    for day, description, amount, category in abroad:
        writer.writerow([day.isoformat(), description, amount, "EUR", category])
    return out.getvalue()


def on_the_card(row: tuple[dt.date, str, str, str], today: dt.date) -> bool:
    """Dining and shopping of the last two months were paid by credit card: they come from
    the card's OFX statement, not the checking account's CSV."""
    return row[3] in ("Dining", "Shopping") and row[0] >= month_start(today, 1)


def ofx_of(card: list[tuple[dt.date, str, str, str]], today: dt.date) -> str:
    """The card issuer's OFX 1.x (SGML) download: no categories (the model suggests them),
    the bank's own FITID per row, the balance owed as LEDGERBAL."""
    stamp = lambda day: day.strftime("%Y%m%d")  # noqa: E731
    lines = [
        "OFXHEADER:100", "DATA:OFXSGML", "VERSION:102", "SECURITY:NONE", "ENCODING:USASCII",
        "CHARSET:1252", "COMPRESSION:NONE", "OLDFILEUID:NONE", "NEWFILEUID:NONE", "",
        "<OFX>", "<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>",
        f"<DTSERVER>{stamp(today)}120000<LANGUAGE>ENG<FI><ORG>Chase<FID>10898</FI></SONRS></SIGNONMSGSRSV1>",
        "<CREDITCARDMSGSRSV1><CCSTMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>",
        "<CCSTMTRS><CURDEF>USD<CCACCTFROM><ACCTID>4147202214718832</CCACCTFROM>",
        f"<BANKTRANLIST><DTSTART>{stamp(month_start(today, 1))}<DTEND>{stamp(today)}",
    ]
    owed = 0.0
    for n, (day, description, amount, _) in enumerate(card):
        owed += float(amount)
        lines += [
            "<STMTTRN>", "<TRNTYPE>DEBIT", f"<DTPOSTED>{stamp(day)}120000.000", f"<TRNAMT>{amount}",
            f"<FITID>{stamp(day)}{n:06d}", f"<NAME>{description.upper()[:32]}", "</STMTTRN>",
        ]
    lines += ["</BANKTRANLIST>", f"<LEDGERBAL><BALAMT>{owed:.2f}<DTASOF>{stamp(today)}</LEDGERBAL>",
              "</CCSTMTRS></CCSTMTTRNRS></CREDITCARDMSGSRSV1>", "</OFX>", ""]
    return "\n".join(lines)


def camt_of(abroad: list[tuple[dt.date, str, str, str]]) -> str:
    """The euro account the household keeps for travel, as its bank's CAMT.053 statement for
    March 2026: the Lisbon week, with opening and closing balances that add up."""
    opening = 1500.00
    closing = opening + sum(float(amount) for _, _, amount, _ in abroad)
    entries = []
    for n, (day, description, amount, _) in enumerate(abroad):
        entries.append(
            f"<Ntry><Amt Ccy=\"EUR\">{-float(amount):.2f}</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>"
            f"<BookgDt><Dt>{day.isoformat()}</Dt></BookgDt><ValDt><Dt>{day.isoformat()}</Dt></ValDt>"
            f"<AcctSvcrRef>TRWI{day.strftime('%Y%m%d')}{n:04d}</AcctSvcrRef><NtryDtls><TxDtls><RltdPties>"
            f"<Cdtr><Nm>{description}</Nm></Cdtr></RltdPties></TxDtls></NtryDtls></Ntry>"
        )
    balance = lambda code, amount, day: (  # noqa: E731
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">{amount:.2f}</Amt>"
        f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        "<GrpHdr><MsgId>SEED-2026-03</MsgId><CreDtTm>2026-03-31T23:59:59</CreDtTm></GrpHdr>"
        "<Stmt><Id>SEED-2026-03-EUR</Id><CreDtTm>2026-03-31T23:59:59</CreDtTm>"
        "<Acct><Id><IBAN>BE71967091234569</IBAN></Id><Ccy>EUR</Ccy>"
        "<Svcr><FinInstnId><BIC>TRWIBEB1XXX</BIC><Nm>Wise Europe</Nm></FinInstnId></Svcr></Acct>"
        + balance("OPBD", opening, "2026-03-01") + balance("CLBD", closing, "2026-03-31")
        + "".join(entries) + "</Stmt></BkToCstmrStmt></Document>\n"
    )


def import_statements(token: str, card: list, abroad: list, today: dt.date) -> None:
    """The card's OFX and the euro account's CAMT file: two accounts appear, linked by number;
    running this again finds every row a duplicate by the bank's own id."""
    files = [("chase-card.qfx", "application/x-ofx", ofx_of(card, today))]
    if abroad:
        files.append(("wise-eur-2026-03.xml", "application/xml", camt_of(abroad)))
    for name, content_type, text in files:
        done = call("POST", f"/transactions/import?file_name={name}", token, text, content_type=content_type)
        if done.get("errors"):
            raise ApiError(422, {"file": name, "errors": done["errors"][:5]})
        print(f"{name}: {done['imported']} imported, {done['duplicates']} already there")
    for account in call("GET", "/accounts", token)["data"]:
        print(f"  account: {account['name']} ({account['type']}, {account['currency']})")
    # Bank files carry no categories: the model fills in what it is sure of, and the person
    # sorts the rest, as one does after an import (a category chosen by hand is theirs).
    wanted = {description.upper()[:32]: category for _, description, _, category in card}
    wanted.update({description: category for _, description, _, category in abroad})
    categories = {c["name"]: c["id"] for c in call("GET", "/categories?limit=100", token)["data"]}
    first = min([row[0] for row in card + abroad], default=today)
    sorted_by_hand, cursor = 0, ""
    while True:
        page = call("GET", f"/transactions?from={first}&limit=200" + (f"&cursor={cursor}" if cursor else ""), token)
        for t in page["data"]:
            category = wanted.get(t["description"])
            if t["category_id"] is None and t.get("account_id") and category in categories:
                call("PATCH", f"/transactions/{t['id']}", token, {"category_id": categories[category]})
                sorted_by_hand += 1
        cursor = page.get("next_cursor")
        if not cursor:
            break
    print(f"  {sorted_by_hand} imported rows the model was unsure of, categorised by hand")


def seed_goals(token: str, today: dt.date) -> None:
    """An emergency fund fed 300.00 a month for the last eight months, due at the end of next
    year, and a trip saved for in euros: progress, a projected date and a monthly amount."""
    if call("GET", "/goals?limit=1", token).get("data"):
        print("goals: already there")
        return
    fund = call("POST", "/goals", token, {
        "name": "Emergency fund", "target_amount": "10000.00", "currency": CURRENCY,
        "target_date": f"{today.year + 1}-12-31"})
    for back in range(8, 0, -1):
        call("POST", f"/goals/{fund['id']}/contributions", token,
             {"amount": "300.00", "occurred_on": month_start(today, back).replace(day=2).isoformat()})
    trip = call("POST", "/goals", token, {
        "name": "Lisbon again", "target_amount": "2500.00", "currency": "EUR",
        "target_date": f"{today.year + 1}-06-30"})
    for back, amount in ((3, "150.00"), (2, "150.00"), (1, "200.00")):
        call("POST", f"/goals/{trip['id']}/contributions", token,
             {"amount": amount, "occurred_on": month_start(today, back).replace(day=5).isoformat()})
    print("goals: an emergency fund (10,000.00 USD) and a trip (2,500.00 EUR), with contributions")


def login() -> str:
    tokens = call("POST", "/auth/login", body={"email": EMAIL, "password": PASSWORD})
    return tokens["access_token"]


def verify_email(token: str, limit_secs: float = 60) -> None:
    """Verifies the demo address with the link from the dev inbox, as its owner would: until
    then it gets no alerts, insights or summaries."""
    if call("GET", "/me", token).get("email_verified"):
        return
    deadline = time.monotonic() + limit_secs
    while True:
        with urllib.request.urlopen(f"{MAIL_SINK}/api/email", timeout=30) as response:
            mail = json.loads(response.read())
        links = [m.group(1) for e in mail
                 if any(t["address"].lower() == EMAIL.lower() for t in e.get("to", []))
                 for m in [re.search(r"verify-email\?token=([A-Za-z0-9_-]+)", e.get("text") or "")] if m]
        if links:
            try:
                call("POST", "/auth/verify-email", body={"token": links[-1]})
                print(f"{EMAIL} verified with the link from the inbox")
                return
            except ApiError as error:
                # An older link than the newest; wait for the newest to arrive.
                if error.status != 422:
                    raise
        if time.monotonic() > deadline:
            raise SystemExit(f"no usable verification link for {EMAIL} in {MAIL_SINK} "
                             f"after {limit_secs:.0f} s: is the notification service running?")
        time.sleep(1)


def main() -> int:
    # UTC, the services' default time zone for a new user.
    today = dt.datetime.now(dt.timezone.utc).date()
    try:
        call("POST", "/auth/register", body={"email": EMAIL, "password": PASSWORD, "name": "Demo User"})
        fresh = True
    except ApiError as error:
        if error.status != 409:
            raise
        fresh = False
    token = login()
    verify_email(token)
    # Each step is skipped when already done, so a run that stopped half-way can be repeated.
    existing = call("GET", "/transactions?limit=1", token)
    rows = history(today)
    abroad = [row for row in ABROAD if month_start(today, MONTHS - 1) <= row[0] <= today]
    card = [row for row in rows if on_the_card(row, today)]
    checking = [row for row in rows if not on_the_card(row, today)]
    first_run = fresh or not existing.get("data")
    if first_run:
        imported = call("POST", "/transactions/import?file_name=checking-history.csv", token,
                        csv_of(checking, []), content_type="text/csv")
        if imported.get("errors"):
            print(f"import reported errors: {imported['errors'][:5]}", file=sys.stderr)
            return 1
        print(f"imported {imported['imported']} checking-account transactions over {MONTHS} months "
              f"({rows[0][0]} to {rows[-1][0]})")
    else:
        print(f"{EMAIL} already has its transactions; not imported again")
    # The card and the euro account come after the models have learnt the checking history,
    # as for a person who brings their bank's files after their history: the card's rows are
    # then categorised by their own model.
    if first_run:
        wait_for_analytics(token, checking, month_start(today, 1))
    import_statements(token, card, abroad, today)

    categories = {c["name"]: c["id"] for c in call("GET", "/categories?limit=100", token)["data"]}
    for back in (2, 1, 0):
        month = month_start(today, back).strftime("%Y-%m")
        try:
            create_budget(token, month, categories)
        except ApiError as error:
            if error.status != 409:  # one budget per month and currency: already there
                raise
    print("budgets: the last three months, 3,400.00 USD each with category limits")
    seed_goals(token, today)

    last_month = month_start(today, 1).strftime("%Y-%m")
    wait_for_analytics(token, rows, month_start(today, 1))
    queued = call("POST", "/notifications/summary", token, {"month": last_month})
    print(f"monthly summary for {last_month} queued ({queued['notification_id']})")
    print_login()
    return 0


def wait_for_analytics(token: str, rows: list, first: dt.date, limit_secs: float = 180) -> None:
    """Waits until analytics holds last month's spending and has trained this month's forecast,
    so the summary email is written from the whole history, not from what had arrived so far."""
    last = month_start(first, -1) - dt.timedelta(days=1)
    expected = sum(
        (-float(amount) for day, _, amount, *_ in rows
         if first <= dt.date.fromisoformat(str(day)) <= last and float(amount) < 0),
        0.0,
    )
    deadline = time.monotonic() + limit_secs
    caught_up = None
    while time.monotonic() < deadline:
        try:
            if caught_up is None:
                summary = call("GET", f"/analytics/summary?from={first}&to={last}", token)
                if abs(float(summary.get("total_spent") or 0) - expected) < 0.005:
                    # Every event is applied; the retraining after the last one is what counts.
                    caught_up = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
            else:
                # Models are registered by the retraining pass that also finds anomalies,
                # recurring payments and insights.
                models = call("GET", "/analytics/models", token).get("data") or []
                trained = [dt.datetime.fromisoformat(m["trained_at"].replace("Z", "+00:00")) for m in models]
                if trained and max(trained) >= caught_up:
                    return
        except ApiError:
            pass
        time.sleep(2)
    print("analytics is still catching up; the summary may show partial figures", file=sys.stderr)


def create_budget(token: str, month: str, categories: dict[str, str]) -> None:
    call("POST", "/budgets", token, {
            "month": month,
            "currency": CURRENCY,
            "total_limit": "3400.00",
            "category_limits": [
                {"category_id": categories["Groceries"], "limit": "450.00"},
                {"category_id": categories["Dining"], "limit": "220.00"},
                {"category_id": categories["Shopping"], "limit": "300.00"},
            ],
            "alert_thresholds": [50, 80, 100],
        })


def print_login() -> None:
    print()
    print(f"  Log in at {API}/auth/login with")
    print(f"    email:    {EMAIL}")
    print(f"    password: {PASSWORD}")
    print("  Models train within a minute; then see /analytics/forecast?month=<this month>,")
    print("  /analytics/anomalies, /analytics/recurring, /analytics/models, and the emails at")
    print("  http://127.0.0.1:1080 (API docs: " + GATEWAY + "/docs).")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except urllib.error.URLError as error:
        print(f"cannot reach the gateway at {GATEWAY} ({error.reason}); is `make run` running?", file=sys.stderr)
        sys.exit(1)
    except ApiError as error:
        print(f"the API refused: {error}", file=sys.stderr)
        sys.exit(1)
