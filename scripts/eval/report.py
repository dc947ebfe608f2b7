"""Writes docs/analytics.md from `forecast-eval` (and optionally statsforecast) JSON lines.

Usage: python report.py RESULTS_DIR COMMAND   (RESULTS_DIR holds public.jsonl, synthetic.jsonl
and, when statsforecast ran, public_statsforecast.jsonl and synthetic_statsforecast.jsonl)

The statsforecast files have one line per (series, model) from statsforecast_baseline.py; an
older file with AutoETS only (lines without "model", "mase" or "coverage_95") is read too.
"""

import json
import os
import platform
import sys
from datetime import date

# Targets per set: the chosen model's mean sMAPE at most this share of Naive2's on the same
# series, and its 80 % intervals covering a share of the held-out points within this range.
PUBLIC_TARGETS = {"smape_ratio": 0.80, "coverage_80": (0.78, 0.82)}
SYNTHETIC_TARGETS = {"smape_ratio": 0.90, "coverage_80": (0.72, 0.88)}


def load(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else float("nan")


def fmt(value, digits=2):
    return "–" if value is None else f"{value:.{digits}f}"


def percent(share):
    return "–" if share is None else f"{100 * share:.1f} %"


def mean_or_none(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def anchors(rows, baseline):
    """The statsforecast models against the chosen model, each on the series both have."""
    by_model = {}
    for b in baseline:
        # Lines from before the anchors had several models are AutoETS's.
        by_model.setdefault(b.get("model", "AutoETS"), {})[b["series"]] = b
    ours = {r["series"]: r for r in rows}
    out = [
        "Outside anchors: statsforecast's models (season length 12, their own 80 % and 95 % intervals) on the",
        "same split, each against our Naive2 on the same series. Their time is one model's fit and forecast",
        "after an untimed warm-up; ours is the whole selection (every candidate backtested, the winner refitted).",
        "",
        "| model | series | mean sMAPE | ratio to Naive2 | mean MASE | 80 % coverage | 95 % coverage | ms per series |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def row(name, pairs):
        smape = mean_or_none(b["smape"] for _, b in pairs)
        naive2 = mean_or_none(r["naive2_smape"] for r, _ in pairs)
        ratio = smape / naive2 if smape is not None and naive2 else None
        ms = mean_or_none(b.get("seconds") for _, b in pairs)
        return (
            f"| {name} | {len(pairs)} of {len(rows)} | {fmt(smape)} | {fmt(ratio, 3)} | "
            f"{fmt(mean_or_none(b.get('mase') for _, b in pairs), 3)} | {percent(mean_or_none(b.get('coverage_80') for _, b in pairs))} | "
            f"{percent(mean_or_none(b.get('coverage_95') for _, b in pairs))} | {fmt(None if ms is None else 1000 * ms, 1)} |"
        )

    out.append(row("chosen (forecast-eval)", [(r, r) for r in rows]))
    for name, lines in by_model.items():
        out.append(row(f"statsforecast {name}", [(ours[s], b) for s, b in lines.items() if s in ours]))
    return out + [""]


def section(title, rows, baseline, targets):
    out = [f"## {title}", ""]
    if not rows:
        return out + ["No results.", ""]
    out += [
        "| series | n | chosen | sMAPE | Naive2 sMAPE | seasonal naive sMAPE | MASE | 80 % coverage | 95 % coverage | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['series']} | {r['n']} | {r['chosen']} | {fmt(r['smape'])} | {fmt(r['naive2_smape'])} | "
            f"{fmt(r['seasonal_naive_smape'])} | {fmt(r['mase'], 3)} | {fmt(r['coverage_80'], 2)} | "
            f"{fmt(r['coverage_95'], 2)} | {fmt(r['seconds'], 4)} |"
        )
    smape, naive2 = mean(r["smape"] for r in rows), mean(r["naive2_smape"] for r in rows)
    ratio = smape / naive2 if naive2 else float("nan")
    cov80, cov95 = mean(r["coverage_80"] for r in rows), mean(r["coverage_95"] for r in rows)
    ratio_target, (cov_low, cov_high) = targets["smape_ratio"], targets["coverage_80"]
    ok_ratio = ratio <= ratio_target
    ok_cov = cov_low <= cov80 <= cov_high
    out += [
        "",
        f"**{len(rows)} series.** Chosen model: mean sMAPE **{smape:.2f}** against Naive2's {naive2:.2f}, "
        f"a ratio of **{ratio:.3f}** (target ≤ {ratio_target:.2f}: {'met' if ok_ratio else 'not met'}); "
        f"mean MASE {mean(r['mase'] for r in rows):.3f}; 80 % intervals cover **{100 * cov80:.1f} %** of held-out "
        f"points (target {100 * cov_low:.0f}–{100 * cov_high:.0f} %: {'met' if ok_cov else 'not met'}), "
        f"95 % intervals {100 * cov95:.1f} %.",
        "",
        "Every candidate refitted on the training part and judged on the same held-out points "
        "(what the backtest could at best have picked):",
        "",
        "| candidate | mean sMAPE | mean MASE | chosen for |",
        "|---|---|---|---|",
    ]
    names = sorted({k for r in rows for k in r["candidates"]})
    for name in names:
        s = mean(r["candidates"].get(name, {}).get("smape") for r in rows)
        m = mean(r["candidates"].get(name, {}).get("mase") for r in rows)
        chosen = sum(1 for r in rows if r["chosen"] == name)
        out.append(f"| {name} | {s:.2f} | {m:.3f} | {chosen} series |")
    seconds = mean(r["seconds"] for r in rows)
    out += ["", f"Selection (every candidate backtested, then the winner refitted) took {1000 * seconds:.1f} ms per series on average.", ""]
    if baseline:
        out += anchors(rows, baseline)
    return out


ANOMALY_TARGET = 0.8
CATEGORY_TARGET = 0.95
AUTO_FILL_PRECISION_TARGET = 0.98


def met(ok):
    return "met" if ok else "**not met**"


def behaviour(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        d = json.load(f)
    a, r, c = d["anomalies"], d["recurring"], d["categorisation"]
    out = [
        "# Anomalies, recurring payments and categorisation",
        "",
        f"`behaviour-eval` on {d['users']} synthetic users' 18 months of bank-style transactions ({d['debits']} debits;",
        "scripts/eval/transactions.py: merchants spelled with store numbers, cities, `POS`/`SQ *` prefixes and `*12345`",
        "suffixes; subscriptions of which about half rise in price; two amount spikes, one duplicate and one large",
        "first charge at a new merchant planted per user, with ground truth). The service's own code runs:",
        "recurring detection first, then anomaly scoring against each debit's earlier history.",
        "",
        "## Anomalies",
        "",
        "| metric | value |",
        "|---|---|",
        f"| planted | {a['planted']} |",
        f"| flagged | {a['flagged']} |",
        f"| precision | **{a['precision']:.3f}** (target ≥ {ANOMALY_TARGET}: {met(a['precision'] >= ANOMALY_TARGET)}) |",
        f"| recall | **{a['recall']:.3f}** (target ≥ {ANOMALY_TARGET}: {met(a['recall'] >= ANOMALY_TARGET)}) |",
    ]
    for kind, v in sorted(a["by_kind"].items()):
        out.append(f"| recall, {kind} (flagged as that kind) | {v['recall']:.3f} of {v['planted']} |")
    out += [
        f"| scoring speed | {a['debits_per_second']:,.0f} debits/s (every user's full history rescored) |",
        "",
        "## Recurring payments",
        "",
        "| metric | value |",
        "|---|---|",
        f"| planted subscriptions found | **{r['found']} of {r['planted']}** ({met(r['found'] == r['planted'])}) |",
        f"| price rises found with their date and new price | **{r['price_rises_found']} of {r['price_rises']}** ({met(r['price_rises_found'] == r['price_rises'])}) |",
        f"| fixed-price series found that were not planted (rent excluded) | {r['unplanted_subscriptions']} |",
        "",
        "## Categorisation",
        "",
        f"A user model trained on each user's first {c['training_per_user']} labelled transactions (global model as",
        "fallback), judged on every later transaction whose text never appeared among those.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| held-out transactions with unseen spellings | {c['tested']} |",
        f"| accuracy | **{c['accuracy']:.3f}** (target ≥ {CATEGORY_TARGET}: {met(c['accuracy'] >= CATEGORY_TARGET)}) |",
        f"| share the engine would auto-fill (confidence ≥ {c['auto_fill_threshold']}) | {c['auto_filled_share']:.3f} |",
        f"| accuracy of those auto-filled | **{c['auto_filled_accuracy']:.3f}** (target ≥ {AUTO_FILL_PRECISION_TARGET}: {met(c['auto_filled_accuracy'] >= AUTO_FILL_PRECISION_TARGET)}) |",
        f"| global model alone (a new user) | {c['global_only_accuracy']:.3f} |",
        "",
    ]
    return out


HOUSEHOLD_TARGET = 0.8


def households(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        d = json.load(f)
    out = [
        "# Households: forecasts with their parts, recurring kinds, categories on new merchants",
        "",
        f"`household-eval` on {d['users']} households of 30 months (scripts/eval/households.py, written apart from",
        "the rules and never used to tune them): rent or a mortgage paid around the 1st (sometimes the last days",
        "of the month before), utilities with seasons, salaries, loans, subscriptions monthly and yearly, everyday",
        "spending in bank spellings of two big US banks and card processors, holiday spending, flights and hotels",
        "a year apart at different prices, a Black Friday purchase and rare big purchases. Pools A and B share no",
        "merchant. Every number comes from the service's own code.",
        "",
        "## Forecasts: each user's last six months",
        "",
        f"Each month is forecast the day before it began, for the month's total and each category: the service's",
        "forecast (regular model + recurring payments due + one-off allowance) against seasonal naive (the same",
        "month a year before) and against the whole-series model the service used before (no parts). Error is",
        "the mean absolute error in USD; sMAPE (percent) is shown too, though it punishes any forecast above",
        "zero for a month without spending (200 %), which an allowance is.",
        "",
        "| series | months | MAE ours | MAE seasonal naive | ratio (target ≤ 0.8) | MAE whole series | sMAPE ours / naive / whole | months after a one-off | repeated: ours / naive / whole |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, v in sorted(d["forecasts"].items()):
        kind, pool = key.split(":")
        m, sm, o = v["mae"], v["smape"], v["one_off_months"]
        ratio = v["mae_ratio_to_seasonal_naive"]
        out.append(
            f"| {kind}, pool {pool} | {v['series_months']} | {m['ours']:.2f} | {m['seasonal_naive']:.2f} | "
            f"**{ratio:.3f}** ({met(ratio <= HOUSEHOLD_TARGET)}) | {m['whole_series']:.2f} | "
            f"{sm['ours']:.1f} / {sm['seasonal_naive']:.1f} / {sm['whole_series']:.1f} | {o['months']} | "
            f"**{o['repeated']['ours']}** / {o['repeated']['seasonal_naive']} / {o['repeated']['whole_series']} |"
        )
    out += [
        "",
        "A one-off counts as repeated when removing it from the history lowers that month's forecast by half",
        "its size or more (one-offs of at least a fifth of the series' usual month).",
        "",
        "## Recurring payments and their kinds",
        "",
        "| pool | labelled series | detected | precision | recall | kind accuracy | one-offs called recurring |",
        "|---|---|---|---|---|---|---|",
    ]
    for pool, r in sorted(d["recurring"].items()):
        out.append(
            f"| {pool} | {r['labelled_series']} | {r['detected']} | {fmt(r['precision'], 3)} | {fmt(r['recall'], 3)} | "
            f"{fmt(r['kind_accuracy'], 3)} | {r['one_offs_called_recurring']} |"
        )
    out += ["", "| labelled kind | classified | series |", "|---|---|---|"]
    out += [f"| {c['labelled']} | {c['classified']} | {c['series']} |" for c in d["kind_confusion"]]
    c = d["categorisation"]
    g, o = c["global"], c["own_first_year_on_new_merchants"]
    sp = c.get("own_first_year_on_new_spellings")
    out += [
        "",
        "## Categorisation on merchants held out whole",
        "",
        "| model | judged on | tested | accuracy (target ≥ 0.95) | auto-filled share | precision when auto-filled (target ≥ 0.98) |",
        "|---|---|---|---|---|---|",
        f"| global, trained on pool A | every pool B transaction (no merchant seen) | {g['tested']} | **{fmt(g['accuracy'], 3)}** | {fmt(g['auto_filled_share'], 3)} | **{fmt(g['auto_filled_precision'], 3)}** |",
        f"| each pool B user's own (first year), global behind | later transactions at merchants that year never had | {o['tested']} | **{fmt(o['accuracy'], 3)}** | {fmt(o['auto_filled_share'], 3)} | **{fmt(o['auto_filled_precision'], 3)}** |",
    ]
    if sp:
        out.append(
            f"| the same | later transactions at merchants it knows, in spellings it never saw | {sp['tested']} | **{fmt(sp['accuracy'], 3)}** | {fmt(sp['auto_filled_share'], 3)} | **{fmt(sp['auto_filled_precision'], 3)}** |"
        )
    out += [
        "",
        "A merchant the model never saw is suggested with at most 0.7 confidence, so the engine (auto-fill at 0.8)",
        "never fills it in: on merchants held out whole the words alone are right about a third of the time.",
        "",
    ]
    return out


def main():
    results, command = sys.argv[1], sys.argv[2]
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    lines = [
        "# Forecast evaluation",
        "",
        f"Produced by `{command}` on {date.today()} ({os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}).",
        "",
        "Each series is monthly. `forecast-eval` holds out its last 12 points, selects a model on the rest",
        "exactly as the service does (`forecasting::select`: every candidate backtested at rolling origins,",
        "ranked by sMAPE and MASE relative to Naive2, intervals calibrated on the backtest errors), forecasts",
        "12 months and is judged on the held-out points; a single model is chosen over the combination only",
        "when its backtest score is 10 % better, and never from fewer than three backtest origins. sMAPE is",
        "in percent as in M4. The public series",
        "come from statsmodels and sktime (scripts/eval/export_datasets.py); the synthetic ones from",
        "scripts/eval/synthetic.py, a personal-finance generator with a known yearly pattern. The rules behind",
        "the household figures at the end are in [architecture/household-analytics.md](architecture/household-analytics.md).",
        "",
    ]
    for title, name, targets in [
        ("Public series", "public", PUBLIC_TARGETS),
        ("Synthetic personal-finance series", "synthetic", SYNTHETIC_TARGETS),
    ]:
        rows = load(os.path.join(results, f"{name}.jsonl"))
        lines += section(title, rows, load(os.path.join(results, f"{name}_statsforecast.jsonl")), targets)
    lines += behaviour(os.path.join(results, "behaviour.json"))
    lines += households(os.path.join(results, "households.json"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
