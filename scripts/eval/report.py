"""Writes docs/analytics.md from `forecast-eval` (and optionally statsforecast) JSON lines.

Usage: python report.py RESULTS_DIR COMMAND   (RESULTS_DIR holds public.jsonl, synthetic.jsonl
and, when statsforecast ran, public_statsforecast.jsonl and synthetic_statsforecast.jsonl)
"""

import json
import os
import platform
import sys
from datetime import date

SMAPE_RATIO_TARGET = 0.90
COVERAGE_TARGET = (0.72, 0.88)


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


def section(title, rows, baseline):
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
    ok_ratio = ratio <= SMAPE_RATIO_TARGET
    ok_cov = COVERAGE_TARGET[0] <= cov80 <= COVERAGE_TARGET[1]
    out += [
        "",
        f"**{len(rows)} series.** Chosen model: mean sMAPE **{smape:.2f}** against Naive2's {naive2:.2f}, "
        f"a ratio of **{ratio:.3f}** (target ≤ {SMAPE_RATIO_TARGET:.2f}: {'met' if ok_ratio else 'not met'}); "
        f"mean MASE {mean(r['mase'] for r in rows):.3f}; 80 % intervals cover **{100 * cov80:.1f} %** of held-out "
        f"points (target {100 * COVERAGE_TARGET[0]:.0f}–{100 * COVERAGE_TARGET[1]:.0f} %: {'met' if ok_cov else 'not met'}), "
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
    out += ["", f"Selection (every candidate backtested, then the winner refitted) took {1000 * seconds:.1f} ms per series on average."]
    if baseline:
        by_name = {b["series"]: b for b in baseline}
        paired = [(r, by_name[r["series"]]) for r in rows if r["series"] in by_name]
        sf_seconds = mean(b["seconds"] for _, b in paired)
        out += [
            f"statsforecast's AutoETS (season length 12) on the same split: mean sMAPE "
            f"{mean(b['smape'] for _, b in paired):.2f}, 80 % coverage {100 * mean(b['coverage_80'] for _, b in paired):.1f} %, "
            f"{1000 * sf_seconds:.1f} ms per series for one model (after its JIT warm-up), against "
            f"{1000 * seconds:.1f} ms here for all six candidates and the backtest.",
        ]
    return out + [""]


ANOMALY_TARGET = 0.8
CATEGORY_TARGET = 0.85


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
        f"| accuracy of those auto-filled | {c['auto_filled_accuracy']:.3f} |",
        f"| global model alone (a new user) | {c['global_only_accuracy']:.3f} |",
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
        "12 months and is judged on the held-out points. sMAPE is in percent as in M4. The public series",
        "come from statsmodels and sktime (scripts/eval/export_datasets.py); the synthetic ones from",
        "scripts/eval/synthetic.py, a personal-finance generator with a known yearly pattern.",
        "",
    ]
    lines += section("Public series", load(os.path.join(results, "public.jsonl")), load(os.path.join(results, "public_statsforecast.jsonl")))
    lines += section("Synthetic personal-finance series", load(os.path.join(results, "synthetic.jsonl")), load(os.path.join(results, "synthetic_statsforecast.jsonl")))
    lines += behaviour(os.path.join(results, "behaviour.json"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
