"""A household history generator with labelled recurring series and one-offs, for evaluating
recurring-payment detection, anomaly scoring and forecasts on whole households.

Each user has 30 months of bank-style transactions, 2024-06-01 to 2026-11-30:
- housing: rent (one rise of 3..8 % at a lease renewal) or a mortgage, fixed, monthly, on the
  1st +-2 days;
- bills: electricity (monthly, seasonal: heating in winter, cooling in summer, or both), water
  (monthly, or every two months), internet and phone (fixed, monthly), car insurance (monthly,
  or yearly at the same price +-1 %);
- for some users a car loan or a student loan (fixed, monthly);
- income: salary (biweekly on Fridays, or monthly on the last business day; one raise), and for
  some users a side income: weekly gig payouts, a fixed monthly retainer, or irregular
  marketplace payouts (not a recurring series);
- 2..5 subscriptions (streaming, music, gym, cloud storage, news, software monthly; a domain,
  a warehouse-club membership or a security suite yearly at the same price each year); some
  start late, some are cancelled, some monthly ones rise in price once;
- everyday card spending (groceries, dining, transport, shopping, health, entertainment) at the
  user's favourite merchants, log-normal around each merchant's own level;
- December gifts (+60..150 % of a month's Shopping), a summer trip in some years (the same
  airline and hotel a year apart, at clearly different prices), a Black Friday purchase at an
  electronics shop, and 1..3 rare big purchases (a sofa, a laptop, a car repair; 5..30x the
  user's typical debit), one of them in December 2025 for most users.
Descriptions are written the way one bank writes them: each user has one bank with its own
house style (card lines as "POS DEBIT ...", "PURCHASE AUTHORIZED ON MM/DD ... CARD 1234",
"CHECKCARD MMDD ... <reference>", plain, or an app's title case; ACH lines with company ids or
per-payment references), chains carry the user's store numbers and city, small merchants their
card processor's prefix ("SQ *", "TST* ", "SP "), and online ones a varying order code.

Merchants (and home cities) come in two disjoint pools: users with an even index draw from
pool A and odd ones from pool B, and the pool is in the user id (hA00, hB01, ...), so that an
evaluation can tune on A and report on B. Every user has its own random stream derived from the
seed and the user id, so a user is the same whatever USERS is.

Writes OUT_DIR/households.csv (`user,date,description,amount,currency,category,label`: amounts
with 2 decimals, negative for debits; `label` is `recurring:<kind>:<cadence>` for each charge or
credit of a true recurring series, `one_off` for a rare big purchase, the Black Friday purchase
and the trip's flight and hotel, empty otherwise) and OUT_DIR/README.md, and prints a summary.

Usage: python households.py [OUT_DIR] [USERS] [SEED]
       (defaults analytics/eval/data/households, 24, 2027)
"""

import collections
import csv
import datetime as dt
import math
import os
import random
import sys
import zlib

START = dt.date(2024, 6, 1)
END = dt.date(2026, 11, 30)
MONTHS = 30
BLACK_FRIDAYS = [dt.date(2024, 11, 29), dt.date(2025, 11, 28), dt.date(2026, 11, 27)]
DECEMBER_2025 = 18  # month index of 2025-12 (0 is 2024-06)

# The label of a water bill every two months. The service's recurring detector knows weekly,
# biweekly, monthly, quarterly and yearly; a bimonthly bill is still a true recurring series.
WATER_EVERY_TWO_MONTHS = "recurring:bill:bimonthly"

# Merchants and payees by role, pool A and pool B. No name is in both pools, and none is in
# scripts/eval/transactions.py.
POOLS = {
    "city": {
        "A": ["SAN JOSE CA", "PHOENIX AZ", "ATLANTA GA", "NASHVILLE TN", "TAMPA FL", "SAN DIEGO CA"],
        "B": ["MINNEAPOLIS MN", "PITTSBURGH PA", "RALEIGH NC", "SACRAMENTO CA", "COLUMBUS OH", "MILWAUKEE WI"],
    },
    "Groceries": {
        "A": ["SPROUTS FARMERS MKT", "H-E-B", "FOOD LION", "HARRIS TEETER", "MEIJER", "GREEN ACRE CO-OP"],
        "B": ["GIANT EAGLE", "STOP & SHOP", "HY-VEE", "FRED MEYER", "WINCO FOODS", "MILLBROOK FARM STAND"],
    },
    "Dining": {
        "A": ["DUNKIN", "PANDA EXPRESS", "CAVA", "FIVE GUYS", "LITTLE FERN CAFE", "HARBOR NOODLE BAR", "MAMA RICCI TRATTORIA"],
        "B": ["PEETS COFFEE", "QDOBA", "WINGSTOP", "TACO BELL", "TWO OWLS BAKERY", "CASA LUNA TAQUERIA", "THE COPPER KETTLE"],
    },
    "Transportation": {
        "A": ["SUNOCO", "CIRCLE K", "SPEEDWAY", "CLIPPER TRANSIT", "PARKMOBILE"],
        "B": ["VALERO", "WAWA", "CITGO", "METRO TRANSIT FARE", "SPOTHERO"],
    },
    "Shopping": {
        "A": ["KOHLS", "TJMAXX", "OLD NAVY", "ETSY.COM", "PAPER & PINE GIFTS"],
        "B": ["ROSS STORES", "NORDSTROM RACK", "WALMART.COM", "LOWES", "THE NEST BOUTIQUE"],
    },
    "Health": {
        "A": ["RITE AID", "QUEST DIAGNOSTICS", "BRIGHT EYE OPTOMETRY"],
        "B": ["DUANE READE", "LABCORP", "SMILE DENTAL GROUP"],
    },
    "Entertainment": {
        "A": ["REGAL CINEMAS", "EVENTBRITE", "NINTENDO ESHOP", "DAVE & BUSTERS"],
        "B": ["CINEMARK", "STUBHUB", "PLAYSTATION NETWORK", "TOPGOLF"],
    },
    "rent": {"A": ["OAKMONT PROPERTY MGMT", "WILLOW CREEK APTS"], "B": ["HARBORVIEW RESIDENTIAL", "CEDAR PARK LEASING"]},
    "mortgage": {"A": ["ROCKET MORTGAGE"], "B": ["MR COOPER MORTGAGE"]},
    "electric": {"A": ["PIEDMONT POWER & LIGHT", "DESERT SUN ELECTRIC"], "B": ["NORTHERN PLAINS ENERGY", "LAKESHORE ELECTRIC CO"]},
    "water": {"A": ["METRO WATER SERVICES", "VALLEY WATER DIST"], "B": ["RIVERBEND WATER AUTH", "COUNTY WATER & SEWER"]},
    "internet": {"A": ["XFINITY INTERNET", "SONIC.NET"], "B": ["SPECTRUM", "FRONTIER FIBER"]},
    "phone": {"A": ["T-MOBILE", "MINT MOBILE"], "B": ["VERIZON WIRELESS", "VISIBLE SERVICE"]},
    "car insurance": {"A": ["GEICO AUTO", "STATE FARM INSURANCE"], "B": ["PROGRESSIVE INS", "ALLSTATE"]},
    "car loan": {"A": ["TOYOTA MOTOR CREDIT", "ALLY AUTO LOAN"], "B": ["HONDA FINANCIAL SVCS", "CAPITAL ONE AUTO PMT"]},
    "student loan": {"A": ["NELNET STUDENT LOAN"], "B": ["MOHELA STUDENT LN"]},
    "employer": {
        "A": ["BRIGHTLINE HEALTH SYS", "CASCADE ROBOTICS INC", "OAKRIDGE SCHOOL DIST", "SUMMIT LOGISTICS"],
        "B": ["LUMEN FREIGHT CO", "SILVERPINE SOFTWARE", "HARBOR CITY HOSPITAL", "TRI-COUNTY TRANSIT AUTH"],
    },
    "gig": {"A": ["DOORDASH DASHER PAY"], "B": ["INSTACART SHOPPER PAY"]},
    "retainer": {"A": ["KESTREL DESIGN STUDIO"], "B": ["HERONWOOD MEDIA"]},
    "marketplace": {"A": ["ETSY INC PAYOUT"], "B": ["POSHMARK PAYOUT"]},
    "electronics": {"A": ["MICRO CENTER", "NEWEGG.COM"], "B": ["B&H PHOTO VIDEO", "ADORAMA.COM"]},
    "sofa": {"A": ["ASHLEY HOMESTORE"], "B": ["LIVING SPACES"]},
    "laptop": {"A": ["DELL.COM"], "B": ["LENOVO.COM"]},
    "car repair": {"A": ["MIDAS AUTO SERVICE"], "B": ["FIRESTONE COMPLETE AUTO"]},
    "airline": {"A": ["DELTA AIR LINES", "JETBLUE AIRWAYS"], "B": ["UNITED AIRLINES", "ALASKA AIRLINES"]},
    "hotel": {"A": ["MARRIOTT HOTELS", "HILTON HOTELS"], "B": ["HYATT HOTELS", "AIRBNB"]},
}

# (descriptor, price, cadence, what) per pool; yearly ones cost the same every year.
SUBSCRIPTIONS = {
    "A": [
        ("PEACOCKTV.COM", 7.99, "monthly", "streaming"),
        ("PARAMOUNTPLUS.COM", 11.99, "monthly", "streaming"),
        ("TIDAL.COM", 10.99, "monthly", "music"),
        ("CRUNCH FITNESS CLUB DUES", 24.99, "monthly", "gym"),
        ("DROPBOX*", 11.99, "monthly", "cloud storage"),
        ("NYTIMES DIGITAL SUB", 17.00, "monthly", "news"),
        ("MSFT * MICROSOFT 365", 9.99, "monthly", "software"),
        ("NAMECHEAP.COM DOMAIN RENEWAL", 15.98, "yearly", "domain"),
        ("COSTCO WHSE MEMBERSHIP", 65.00, "yearly", "membership"),
        ("NORTON 360 ANNUAL", 49.99, "yearly", "software"),
    ],
    "B": [
        ("MAX.COM", 16.99, "monthly", "streaming"),
        ("STARZ ENTERTAINMENT", 9.99, "monthly", "streaming"),
        ("GOOGLE *YOUTUBE MUSIC", 10.99, "monthly", "music"),
        ("ANYTIME FITNESS", 41.99, "monthly", "gym"),
        ("GOOGLE *GOOGLE ONE", 2.99, "monthly", "cloud storage"),
        ("WP DIGITAL SUBSCRIPTION", 12.00, "monthly", "news"),
        ("1PASSWORD.COM", 2.99, "monthly", "software"),
        ("SQSP* DOMAIN RENEWAL", 20.00, "yearly", "domain"),
        ("SAMS CLUB MEMBERSHIP FEE", 50.00, "yearly", "membership"),
        ("WALMART+ ANNUAL MEMBERSHIP", 98.00, "yearly", "membership"),
    ],
}

# Online merchants (and those ending in .COM) have no store numbers and no city.
ONLINE = {"PARKMOBILE", "SPOTHERO", "CLIPPER TRANSIT", "METRO TRANSIT FARE", "EVENTBRITE", "STUBHUB", "NINTENDO ESHOP", "PLAYSTATION NETWORK"}

# Small merchants show their card processor's prefix.
PROCESSOR = {
    "GREEN ACRE CO-OP": "SP ", "MILLBROOK FARM STAND": "SQ *",
    "LITTLE FERN CAFE": "SQ *", "HARBOR NOODLE BAR": "TST* ", "MAMA RICCI TRATTORIA": "TST* ",
    "TWO OWLS BAKERY": "SQ *", "CASA LUNA TAQUERIA": "TST* ", "THE COPPER KETTLE": "TST* ",
    "PAPER & PINE GIFTS": "SP ", "THE NEST BOUTIQUE": "SQ *",
}

# Everyday spending: visits a month at one favourite merchant of the category, typical amount.
EVERYDAY = {
    "Groceries": (5, 64), "Dining": (7, 21), "Transportation": (4, 36),
    "Shopping": (3, 46), "Health": (1, 30), "Entertainment": (2, 31),
}

BANKS = ["pos", "authorized", "checkcard", "plain", "app"]
SURNAMES = ["MORALES", "CHEN", "OKAFOR", "NGUYEN", "BAKER", "KOWALSKI", "PATEL", "LINDQVIST", "REYES", "OSEI"]
CATEGORY = {
    "rent": "Housing", "mortgage": "Housing", "electric": "Utilities", "water": "Utilities",
    "internet": "Utilities", "phone": "Utilities", "car insurance": "Insurance",
    "car loan": "Loans", "student loan": "Loans", "employer": "Salary", "gig": "Other income",
    "retainer": "Other income", "marketplace": "Other income", "electronics": "Shopping",
    "sofa": "Shopping", "laptop": "Shopping", "car repair": "Transportation",
    "airline": "Travel", "hotel": "Travel",
}


def check_pools():
    """Every name belongs to one pool only."""
    seen = {}
    for role, pools in POOLS.items():
        for pool, names in pools.items():
            for name in names:
                assert seen.setdefault(name, pool) == pool, f"{name} is in both pools"
    for pool, subs in SUBSCRIPTIONS.items():
        for name, *_ in subs:
            assert seen.setdefault(name, pool) == pool, f"{name} is in both pools"


def month_start(i):
    return dt.date(START.year + (START.month - 1 + i) // 12, (START.month - 1 + i) % 12 + 1, 1)


def on(i, day):
    """Day `day` of month `i`, clamped to the month."""
    first = month_start(i)
    last = (month_start(i + 1) - dt.timedelta(days=1)).day
    return first.replace(day=max(1, min(day, last)))


def days_in(i):
    return (month_start(i + 1) - month_start(i)).days


def business_day(d):
    """ACH payments post on the next weekday."""
    while d.weekday() >= 5:
        d += dt.timedelta(days=1)
    return d


def last_business_day(i):
    d = month_start(i + 1) - dt.timedelta(days=1)
    while d.weekday() >= 5:
        d -= dt.timedelta(days=1)
    return d


def stable(text):
    """A number fixed by the text, for what a bank prints the same way every time."""
    return zlib.crc32(text.encode())


class User:
    def __init__(self, index, seed):
        self.pool = "A" if index % 2 == 0 else "B"
        self.uid = f"h{self.pool}{index:02d}"
        self.rng = random.Random(f"{seed}:{self.uid}")
        # The bank's text has a stream of its own, so that changing how lines are spelled
        # leaves every date and amount as it was.
        self.text_rng = random.Random(f"{seed}:{self.uid}:text")
        self.bank = self.text_rng.choice(BANKS)
        self.city = self.text_rng.choice(POOLS["city"][self.pool])
        self.name = f"{self.text_rng.choice('ABCDEJKLMRST')} {self.text_rng.choice(SURNAMES)}"
        self.card = f"{self.text_rng.randint(1000, 9999)}"
        self.stores = {}
        self.rows = []

    def pick(self, role, k=None):
        names = POOLS[role][self.pool]
        return self.rng.choice(names) if k is None else self.rng.sample(names, k=min(k, len(names)))

    def add(self, when, payee, text, amount, category, label=""):
        """One transaction, if it falls in the history; `payee` names its series."""
        if START <= when <= END:
            assert "," not in text and "\n" not in text, text
            self.rows.append((when, text, round(amount, 2), category, label, payee))

    # -- how this user's bank prints a line --

    def store_of(self, merchant):
        """One of the (up to three) stores this user visits, as the chain numbers it."""
        if merchant not in self.stores:
            fmt = ["#{:04d}", "{:05d}", "STORE {}", "#{}"][stable(merchant) % 4]
            rng = self.text_rng
            self.stores[merchant] = [fmt.format(rng.randint(12, 9999)) for _ in range(rng.randint(1, 3))]
        return self.text_rng.choice(self.stores[merchant])

    def card_text(self, merchant, when, online=False, code=False):
        """A card purchase: the merchant field (22 characters, as card networks cut it), the
        place, and the bank's own wrapping."""
        rng = self.text_rng
        field = PROCESSOR.get(merchant, "") + merchant
        if code:  # an online order code that changes every time: "DROPBOX*7TRK3Q"
            field += "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(6))
        online = online or merchant in ONLINE or merchant.endswith(".COM") or code
        if not online and not PROCESSOR.get(merchant) and rng.random() < 0.85:
            field += " " + self.store_of(merchant)
        field = field[:22].strip()
        if online:
            place = ["WA", "CA", "NY", "DE"][stable(merchant) % 4]
        else:
            city = self.city if rng.random() < 0.85 else rng.choice(POOLS["city"][self.pool])
            place = city[:-3][:13] + " " + city[-2:]
        auth = when - dt.timedelta(days=rng.choice([0, 0, 1, 1, 2]))
        if self.bank == "pos":
            return f"{rng.choice(['POS DEBIT', 'POS PURCHASE', 'POS DEBIT'])} {field} {place}"
        if self.bank == "authorized":
            return f"PURCHASE AUTHORIZED ON {auth:%m/%d} {field} {place} S{rng.randint(10**14, 10**15 - 1)} CARD {self.card}"
        if self.bank == "checkcard":
            return f"CHECKCARD {auth:%m%d} {field} {place} {rng.randint(10**22, 10**23 - 1)}"
        if self.bank == "plain":
            return f"{field} {place}" if rng.random() < 0.8 else field
        return " ".join(w if w in ("SQ", "*", "TST*", "SP") else w.title() for w in field.split(" "))

    def ach_text(self, payee, entry, when, credit=False):
        """An ACH payment: a fixed company id, and for some banks a reference per payment."""
        company = f"{stable(payee) % 10**10:010d}"
        rng = self.text_rng
        if self.bank == "checkcard":
            return f"{payee} DES:{entry} ID:{rng.randint(10**9, 10**10 - 1)} INDN:{self.name} CO ID:{company} PPD"
        if self.bank == "authorized":
            return f"{payee} {entry} {when:%y%m%d} {rng.randint(10**11, 10**12 - 1)} {self.name}"
        if self.bank == "pos":
            return f"ACH {'CREDIT' if credit else 'DEBIT'} {payee} {entry} {company}"
        if self.bank == "plain":
            return f"{payee} {entry} PPD ID: {company}"
        return f"{payee.title()} {entry.title()}"


# -- the parts of a household --


def housing(u):
    rng = u.rng
    if rng.random() < 0.6:
        payee, amount = u.pick("rent"), round(rng.uniform(1100, 2600) / 5) * 5
        renewal, rise = rng.randint(5, 24), rng.uniform(0.03, 0.08)
    else:
        payee, amount, renewal, rise = u.pick("mortgage"), round(rng.uniform(1300, 3200), 2), None, 0.0
    for i in range(MONTHS):
        price = amount * (1 + rise) if renewal is not None and i >= renewal else amount
        if renewal is not None:
            price = round(price / 5) * 5
        offset = rng.randint(0 if i == 0 else -2, 2)
        when = month_start(i) + dt.timedelta(days=offset)
        u.add(when, payee, u.ach_text(payee, "RENT" if renewal is not None else "MTG PYMT", when), -price, "Housing", "recurring:housing:monthly")


def utilities(u):
    rng = u.rng
    # Electricity: heating in winter, cooling in summer, or both.
    payee, base, day = u.pick("electric"), rng.uniform(45, 95), rng.randint(5, 24)
    heat, cool = {"cold": (0.9, 0.15), "hot": (0.1, 1.1), "mixed": (0.6, 0.6)}[rng.choice(["cold", "hot", "mixed"])]
    for i in range(MONTHS):
        phase = math.cos(2 * math.pi * (month_start(i).month - 1) / 12)  # 1 in January, -1 in July
        amount = base * (1 + heat * max(phase, 0) + cool * max(-phase, 0)) * math.exp(rng.gauss(0, 0.07))
        when = business_day(on(i, day + rng.randint(-2, 2)))
        u.add(when, payee, u.ach_text(payee, "AUTOPAY", when), -amount, "Utilities", "recurring:bill:monthly")
    # Water, monthly or every two months, varying with use.
    payee, every = u.pick("water"), rng.choice([1, 2])
    base, day = rng.uniform(30, 60) * every, rng.randint(8, 26)
    label = "recurring:bill:monthly" if every == 1 else WATER_EVERY_TWO_MONTHS
    for i in range(rng.randint(0, every - 1), MONTHS, every):
        summer = 1.25 if month_start(i).month in (6, 7, 8, 9) else 1.0
        when = business_day(on(i, day + rng.randint(-2, 2)))
        u.add(when, payee, u.ach_text(payee, "UTIL PAYMT", when), -base * summer * math.exp(rng.gauss(0, 0.08)), "Utilities", label)
    # Internet and phone: fixed prices, charged to the card.
    for role, low, high in [("internet", 50, 95), ("phone", 30, 125)]:
        payee, price, day = u.pick(role), round(rng.uniform(low, high)) - 0.01, rng.randint(1, 28)
        for i in range(MONTHS):
            when = on(i, day + rng.choice([0, 0, 0, 1]))
            u.add(when, payee, u.card_text(payee, when, online=True), -price, "Utilities", "recurring:bill:monthly")


def insurance(u):
    rng = u.rng
    payee, monthly = u.pick("car insurance"), round(rng.uniform(85, 190), 2)
    if rng.random() < 0.35:  # paid yearly on the policy's anniversary, the same price +-1 %
        yearly, first = monthly * 11.2, on(rng.randint(0, 11), rng.randint(1, 28))
        for year in range(3):
            when = business_day(first.replace(year=first.year + year))
            u.add(when, payee, u.ach_text(payee, "INS PREM", when), -yearly * rng.uniform(0.99, 1.01), "Insurance", "recurring:bill:yearly")
    else:
        day = rng.randint(1, 28)
        for i in range(MONTHS):
            when = business_day(on(i, day))
            u.add(when, payee, u.ach_text(payee, "INS PREM", when), -monthly, "Insurance", "recurring:bill:monthly")


def loans(u):
    rng = u.rng
    if rng.random() < 0.45:
        return
    role = rng.choice(["car loan", "student loan"])
    payee, day = u.pick(role), rng.randint(3, 25)
    amount = round(rng.uniform(260, 560) if role == "car loan" else rng.uniform(170, 420), 2)
    for i in range(MONTHS):
        when = business_day(on(i, day))
        u.add(when, payee, u.ach_text(payee, "LOAN PMT", when), -amount, "Loans", "recurring:loan:monthly")


def income(u):
    rng = u.rng
    employer = u.pick("employer")
    raise_at, raise_by = month_start(rng.randint(8, 22)), rng.uniform(1.03, 1.06)
    if rng.random() < 0.6:
        net = round(rng.uniform(1400, 3300), 2)
        payday = START + dt.timedelta(days=(4 - START.weekday()) % 7 + rng.choice([0, 7]))
        while payday <= END:
            amount = net * raise_by if payday >= raise_at else net
            u.add(payday, employer, u.ach_text(employer, "PAYROLL", payday, credit=True), amount, "Salary", "recurring:income:biweekly")
            payday += dt.timedelta(days=14)
    else:
        net = round(rng.uniform(3000, 7000), 2)
        for i in range(MONTHS):
            when = last_business_day(i)
            amount = net * raise_by if when >= raise_at else net
            u.add(when, employer, u.ach_text(employer, "PAYROLL", when, credit=True), amount, "Salary", "recurring:income:monthly")
    side = rng.random()
    if side < 0.15:  # weekly gig payouts on Mondays, varying, a few weeks without
        payer, level = u.pick("gig"), rng.uniform(90, 260)
        when = START + dt.timedelta(days=(0 - START.weekday()) % 7 + 7 * rng.randint(0, 30))
        while when <= END:
            if rng.random() > 0.05:
                u.add(when, payer, u.ach_text(payer, "PAYOUT", when, credit=True), level * math.exp(rng.gauss(0, 0.3)), "Other income", "recurring:income:weekly")
            when += dt.timedelta(days=7)
    elif side < 0.3:  # a fixed monthly retainer
        payer, amount, day, first = u.pick("retainer"), round(rng.uniform(400, 1200) / 50) * 50, rng.randint(8, 12), rng.randint(0, 12)
        for i in range(first, MONTHS):
            when = business_day(on(i, day))
            u.add(when, payer, u.ach_text(payer, "VENDOR PMT", when, credit=True), amount, "Other income", "recurring:income:monthly")
    elif side < 0.45:  # marketplace payouts at no fixed rhythm: not a recurring series
        payer, level = u.pick("marketplace"), rng.uniform(30, 180)
        for i in range(MONTHS):
            for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
                when = on(i, rng.randint(1, 28))
                u.add(when, payer, u.ach_text(payer, "TRANSFER", when, credit=True), level * math.exp(rng.gauss(0, 0.5)), "Other income")


def subscriptions(u):
    rng = u.rng
    for descriptor, price, cadence, _ in rng.sample(SUBSCRIPTIONS[u.pool], k=rng.randint(2, 5)):
        coded = descriptor.endswith("*")
        if cadence == "yearly":
            first = on(rng.randint(0, 11), rng.randint(1, 28))
            for year in range(3):
                when = first.replace(year=first.year + year)
                u.add(when, descriptor, u.card_text(descriptor, when, online=True, code=coded), -price, "Subscriptions", "recurring:subscription:yearly")
            continue
        start = 0 if rng.random() < 0.8 else rng.randint(3, 14)
        stop = MONTHS if rng.random() < 0.75 else rng.randint(start + 6, MONTHS - 2)  # cancelled
        rise_at = rng.randint(start + 3, stop - 1) if rng.random() < 0.25 and stop - start > 6 else None
        new_price = round(price * rng.uniform(1.1, 1.25), 0) - 0.01
        day = rng.randint(1, 28)
        for i in range(start, stop):
            when = on(i, day)
            charged = new_price if rise_at is not None and i >= rise_at else price
            u.add(when, descriptor, u.card_text(descriptor, when, online=True, code=coded), -charged, "Subscriptions", "recurring:subscription:monthly")


def everyday(u):
    """Card spending at favourite merchants; returns the typical amount of Shopping a month."""
    rng = u.rng
    style = rng.uniform(0.7, 1.5)
    favourites, level, sigma, weight = {}, {}, {}, {}
    for category in EVERYDAY:
        favourites[category] = u.pick(category, k=rng.randint(2, 4))
        for rank, m in enumerate(favourites[category]):
            level[m] = EVERYDAY[category][1] * style * rng.uniform(0.6, 1.5)
            sigma[m] = rng.uniform(0.15, 0.45)
            weight[m] = 1.0 / (rank + 1)
    for i in range(MONTHS):
        for category, (visits, _) in EVERYDAY.items():
            for _ in range(max(0, round(rng.gauss(visits, math.sqrt(visits))))):
                ms = favourites[category]
                m = rng.choices(ms, weights=[weight[x] for x in ms])[0]
                when = on(i, rng.randint(1, days_in(i)))
                u.add(when, m, u.card_text(m, when), -level[m] * math.exp(rng.gauss(0, sigma[m])), category)
    # December gifts: 60..150 % more Shopping than a usual month, at the usual shops.
    shopping = EVERYDAY["Shopping"][0] * sum(level[m] * weight[m] for m in favourites["Shopping"]) / sum(weight[m] for m in favourites["Shopping"])
    for i in range(MONTHS):
        if month_start(i).month != 12:
            continue
        extra, n = shopping * rng.uniform(0.6, 1.5), rng.randint(2, 6)
        shares = [rng.uniform(0.5, 1.5) for _ in range(n)]
        for share in shares:
            m = rng.choice(favourites["Shopping"])
            when = on(i, rng.randint(1, 23))
            u.add(when, m, u.card_text(m, when), -extra * share / sum(shares), "Shopping")


def typical_debit(u):
    debits = sorted(-r[2] for r in u.rows if r[2] < 0 and r[3] in EVERYDAY)
    return debits[len(debits) // 2]


def one_offs(u):
    rng = u.rng
    typical = typical_debit(u)
    # Black Friday at an electronics shop; some users buy on a second one too.
    shop = u.pick("electronics")
    for when in rng.sample(BLACK_FRIDAYS, k=2 if rng.random() < 0.25 else 1):
        u.add(when, shop, u.card_text(shop, when), -typical * rng.uniform(6, 20), "Shopping", "one_off")
    # 1..3 rare big purchases; for most users one of them in December 2025.
    kinds = rng.sample([("sofa", 15, 30), ("laptop", 12, 30), ("car repair", 5, 20)], k=rng.randint(1, 3))
    months = rng.sample([m for m in range(2, MONTHS) if m != DECEMBER_2025], k=len(kinds))
    if rng.random() < 0.8:
        months[0] = DECEMBER_2025
    for (kind, low, high), i in zip(kinds, months):
        when, shop = on(i, rng.randint(1, 28)), u.pick(kind)
        u.add(when, shop, u.card_text(shop, when), -typical * rng.uniform(low, high), CATEGORY[kind], "one_off")
    # A summer trip in some years: the same airline and hotel a year apart, different prices.
    if rng.random() < 0.35:
        return
    years = [2025, 2026] if rng.random() < 0.7 else [rng.choice([2025, 2026])]
    airline, hotel = u.pick("airline"), u.pick("hotel")
    departure = dt.date(years[0], 6, 20) + dt.timedelta(days=rng.randint(0, 55))
    flight, nights, rate = rng.uniform(280, 650) * rng.randint(1, 4), rng.randint(4, 9), rng.uniform(140, 320)
    for k, year in enumerate(years):
        leave = departure.replace(year=year) + dt.timedelta(days=rng.randint(-10, 10) if k else 0)
        if k:  # next year's trip costs clearly more or less: at least 10 % either way
            flight *= rng.choice([rng.uniform(0.65, 0.88), rng.uniform(1.12, 1.45)])
            stay = nights * rate
            nights = max(3, nights + rng.choice([-2, -1, 1, 2]))
            rate *= rng.uniform(0.9, 1.2)
            while abs(nights * rate / stay - 1) < 0.1:
                rate *= rng.choice([0.95, 1.05])
        booked = leave - dt.timedelta(days=rng.randint(35, 80))
        u.add(booked, airline, u.card_text(airline, booked, online=True), -flight, "Travel", "one_off")
        checkout = leave + dt.timedelta(days=nights)
        u.add(checkout, hotel, u.card_text(hotel, checkout, online=True), -rate * nights, "Travel", "one_off")


def household(index, seed):
    u = User(index, seed)
    housing(u)
    utilities(u)
    insurance(u)
    loans(u)
    income(u)
    subscriptions(u)
    everyday(u)
    one_offs(u)
    u.rows.sort(key=lambda r: r[0])
    return u


README = """# Household histories

Generated by `python scripts/eval/households.py {out_dir} {users} {seed}`; the generator's
docstring says what each household contains. Do not edit by hand: rerun the generator.

`households.csv`: one row per transaction, 2024-06-01 to 2026-11-30 (30 months per user).

| column | meaning |
|---|---|
| user | `h<pool><index>`: `hA00`, `hB01`, ... Even indices draw merchants and cities from pool A, odd ones from pool B; the pools share no merchant, so tune on A and report on B |
| date | the day the bank posted it (ISO) |
| description | the bank's text: store numbers, city and state, `POS DEBIT`, `PURCHASE AUTHORIZED ON MM/DD ... CARD 1234`, `CHECKCARD MMDD ... <reference>`, `SQ *` / `TST* ` / `SP ` prefixes, varying order codes and ACH references; one house style per user |
| amount | decimal with 2 places; negative for debits, positive for credits |
| currency | `USD` |
| category | plain English: {categories} |
| label | see below |

Labels:

| label | what |
|---|---|
| `recurring:housing:monthly` | rent (one rise at a lease renewal) or mortgage, on the 1st +-2 days |
| `recurring:bill:monthly` | electricity (seasonal amounts), water, internet, phone, monthly car insurance |
| `recurring:bill:yearly` | car insurance paid yearly, the same price +-1 % |
| `{water}` | water billed every two months: a true recurring series whose cadence is none of weekly, biweekly, monthly, quarterly, yearly |
| `recurring:loan:monthly` | car or student loan payments, fixed |
| `recurring:income:biweekly`, `recurring:income:monthly` | salary (one raise), a fixed monthly retainer |
| `recurring:income:weekly` | weekly gig payouts (amounts vary, a few weeks missing) |
| `recurring:subscription:monthly` | streaming, music, gym, cloud storage, news, software; some start late, some are cancelled, some rise in price once |
| `recurring:subscription:yearly` | a domain, a warehouse-club membership or a security suite, the same price every year |
| `one_off` | a rare big purchase (sofa, laptop, car repair; 5..30x the user's typical debit, for most users one in 2025-12), a Black Friday purchase at an electronics shop, a trip's flight and hotel (the same merchants a year apart at different prices) |
| empty | everything else: everyday spending, December gifts, irregular marketplace payouts |

Counts for this file:

{counts}
"""


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "analytics/eval/data/households"
    users = int(sys.argv[2]) if len(sys.argv) > 2 else 24
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 2027
    check_pools()
    os.makedirs(out_dir, exist_ok=True)
    households = [household(i, seed) for i in range(users)]
    path = os.path.join(out_dir, "households.csv")
    with open(path, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["user", "date", "description", "amount", "currency", "category", "label"])
        for u in households:
            for when, text, amount, category, label, _ in u.rows:
                out.writerow([u.uid, when.isoformat(), text, f"{amount:.2f}", "USD", category, label])
    rows = [r for u in households for r in u.rows]
    labels = collections.Counter(r[4] or "(empty)" for r in rows)
    # A recurring series: one user's rows with one recurring label at one payee.
    series = collections.Counter(label for uid, label, _ in sorted({(u.uid, r[4], r[5]) for u in households for r in u.rows if r[4]}) if label.startswith("recurring:"))
    counts = "\n".join(
        [f"- {len(households)} users ({sum(u.pool == 'A' for u in households)} in pool A), {len(rows)} rows, {sum(series.values())} recurring series"]
        + [f"- `{label}`: {n} rows" + (f", {series[label]} series" if label in series else "") for label, n in sorted(labels.items())]
    )
    categories = ", ".join(sorted({r[3] for r in rows}))
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(README.format(out_dir=out_dir, users=users, seed=seed, categories=categories, water=WATER_EVERY_TWO_MONTHS, counts=counts))
    print(f"wrote {path}: {len(households)} users, {len(rows)} rows, {min(r[0] for r in rows)} to {max(r[0] for r in rows)}")
    for label, n in sorted(labels.items()):
        print(f"  {label:34} {n:6} rows" + (f" {series[label]:4} series" if label in series else ""))


if __name__ == "__main__":
    main()
