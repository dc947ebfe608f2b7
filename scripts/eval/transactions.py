"""A synthetic personal-finance transaction generator with ground truth, for `make eval-analytics`.

Each user has 18 months of bank-style transactions:
- merchants per category, written the way banks write them and never quite the same way twice:
  store numbers ("#10234"), cities and states, "POS " / "SQ *" / "TST* " prefixes, "*8842"
  suffixes, upper or mixed case;
- amounts log-normal around each merchant's own level (sigma 0.2..0.4);
- a rent, a variable utility bill, salary credits, and 2..4 subscriptions at fixed prices, half
  of which rise in price once;
- planted anomalies: two amount spikes (5..9x the merchant's level at a merchant the user
  visits often), one duplicated charge (same merchant and amount, the same or the next day),
  and one large first charge at a new merchant (15..40x the user's typical debit).

Writes OUT_DIR/transactions.csv (`user,date,description,amount,currency,category,anomaly`,
negative amounts are debits, `anomaly` is empty or the planted kind) and
OUT_DIR/subscriptions.csv (`user,merchant,price_rise_on,from,to`, the planted subscriptions).

Usage: python transactions.py [OUT_DIR] [USERS] [SEED]
       (defaults analytics/eval/data/transactions, 20, 2026)
"""

import datetime as dt
import math
import os
import random
import sys

CITIES = ["AUSTIN TX", "DALLAS TX", "SEATTLE WA", "PORTLAND OR", "DENVER CO", "BOSTON MA", "CHICAGO IL"]
MERCHANTS = {
    "Groceries": ["WHOLE FOODS MARKET", "TRADER JOES", "KROGER", "SAFEWAY", "ALDI", "PUBLIX", "WEGMANS"],
    "Dining": ["STARBUCKS", "CHIPOTLE", "SHAKE SHACK", "PANERA BREAD", "BLUE BOTTLE COFFEE", "SWEETGREEN"],
    "Transportation": ["SHELL OIL", "CHEVRON", "EXXONMOBIL", "UBER TRIP", "LYFT RIDE"],
    "Shopping": ["AMAZON MKTPLACE", "TARGET", "BEST BUY", "IKEA", "HOME DEPOT"],
    "Health": ["CVS PHARMACY", "WALGREENS", "PLANET FITNESS"],
    "Entertainment": ["AMC THEATRES", "TICKETMASTER", "STEAM GAMES"],
}
# How many times a month a user visits one merchant of the category, and its typical amount.
VISITS = {"Groceries": (5, 70), "Dining": (6, 14), "Transportation": (3, 45), "Shopping": (2, 55), "Health": (1, 30), "Entertainment": (1, 35)}
SUBSCRIPTIONS = [("NETFLIX.COM", 15.49), ("SPOTIFY USA", 10.99), ("HULU", 7.99), ("DISNEY PLUS", 13.99), ("APPLE.COM/BILL", 2.99), ("ADOBE CREATIVE CLOUD", 54.99)]
NEW_MERCHANTS = ["ROLEX BOUTIQUE", "EMIRATES AIRLINE", "APPLE STORE FIFTH AVE", "LUXURY FURS", "YACHT CHARTER CO"]


def spelled(rng, name):
    """The name as one bank statement line might print it."""
    text = name
    if rng.random() < 0.6:
        text += f" #{rng.randint(100, 99999)}"
    if rng.random() < 0.5:
        text += " " + rng.choice(CITIES)
    prefix = rng.random()
    if prefix < 0.2:
        text = "POS " + text
    elif prefix < 0.3:
        text = "SQ *" + text
    elif prefix < 0.35:
        text = "TST* " + text
    if rng.random() < 0.3:
        text += f" *{rng.randint(1000, 99999)}"
    if rng.random() < 0.3:
        text = text.title()
    return text


def money(value):
    return f"{value:.2f}"


def user(rng, uid, start):
    rows = []
    months = 18

    def day_of(month, day):
        first = dt.date(start.year + (start.month - 1 + month) // 12, (start.month - 1 + month) % 12 + 1, 1)
        return first + dt.timedelta(days=min(day, 28) - 1)

    favourites = {c: rng.sample(names, k=min(len(names), rng.randint(2, 4))) for c, names in MERCHANTS.items()}
    levels = {(c, m): VISITS[c][1] * rng.uniform(0.6, 1.6) for c, ms in favourites.items() for m in ms}
    sigma = {key: rng.uniform(0.2, 0.4) for key in levels}
    for month in range(months):
        rows.append([day_of(month, 1), "RENT PAYMENT PROPERTY MGMT", -1450.0, "Housing", ""])
        rows.append([day_of(month, 25), "ACME CORP PAYROLL", 4200.0, "Salary", ""])
        rows.append([day_of(month, 8), spelled(rng, "CITY ELECTRIC CO"), -rng.uniform(70, 140), "Utilities", ""])
        for category, merchants in favourites.items():
            count, _ = VISITS[category]
            for _ in range(max(0, int(rng.gauss(count, 1)))):
                m = rng.choice(merchants)
                amount = levels[(category, m)] * math.exp(rng.gauss(0, sigma[(category, m)]))
                rows.append([day_of(month, rng.randint(1, 28)), spelled(rng, m), -amount, category, ""])
    subs = []
    for name, price in rng.sample(SUBSCRIPTIONS, k=rng.randint(2, 4)):
        day = rng.randint(1, 28)
        rise_at = rng.randint(6, months - 3) if rng.random() < 0.5 else None
        new_price = round(price * rng.uniform(1.1, 1.3), 2) if rise_at is not None else price
        for month in range(months):
            charged = new_price if rise_at is not None and month >= rise_at else price
            rows.append([day_of(month, day), spelled(rng, name) if rng.random() < 0.5 else name, -charged, "Subscriptions", ""])
        subs.append((name, day_of(rise_at, day) if rise_at is not None else None, price, new_price))
    # Planted anomalies, after six months of history so there is a "usual" to depart from.
    frequent = [(c, m) for c, ms in favourites.items() for m in ms if c in ("Groceries", "Dining", "Transportation")]
    for _ in range(2):
        category, m = rng.choice(frequent)
        amount = levels[(category, m)] * rng.uniform(5, 9)
        rows.append([day_of(rng.randint(6, months - 1), rng.randint(1, 28)), spelled(rng, m), -amount, category, "amount_spike"])
    debits = sorted(-r[2] for r in rows if r[2] < 0)
    typical = debits[len(debits) // 2]
    rows.append([day_of(rng.randint(6, months - 1), rng.randint(1, 28)), rng.choice(NEW_MERCHANTS), -typical * rng.uniform(15, 40), "Shopping", "new_merchant"])
    # A duplicate of an ordinary Shopping charge after month six.
    shopping = [r for r in rows if r[3] == "Shopping" and not r[4] and r[0] >= day_of(6, 1)]
    original = rng.choice(shopping)
    duplicate = [original[0] + dt.timedelta(days=rng.choice([0, 1])), original[1], original[2], original[3], "duplicate"]
    rows.append(duplicate)
    rows.sort(key=lambda r: r[0])
    return [[uid, r[0].isoformat(), r[1], money(r[2]), "USD", r[3], r[4]] for r in rows], [[uid, s[0], s[1].isoformat() if s[1] else "", money(s[2]), money(s[3])] for s in subs]


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "analytics/eval/data/transactions"
    users = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 2026)
    os.makedirs(out_dir, exist_ok=True)
    start = dt.date(2024, 1, 1)
    with open(os.path.join(out_dir, "transactions.csv"), "w") as tx, open(os.path.join(out_dir, "subscriptions.csv"), "w") as sb:
        tx.write("user,date,description,amount,currency,category,anomaly\n")
        sb.write("user,merchant,price_rise_on,from,to\n")
        for u in range(1, users + 1):
            rows, subs = user(rng, f"user{u:02d}", start)
            for r in rows:
                tx.write(",".join(str(v) for v in r) + "\n")
            for s in subs:
                sb.write(",".join(str(v) for v in s) + "\n")
    print(out_dir)


if __name__ == "__main__":
    main()
