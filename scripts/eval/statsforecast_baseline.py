"""statsforecast's AutoETS, AutoTheta and AutoARIMA on the same held-out split as `forecast-eval`,
as outside anchors for the service's own model selection.

For each `date,value` CSV: hold out the last 12 points, fit each model (season_length=12) on the
rest, forecast 12 with 80 % and 95 % intervals, and print one JSON line per (series, model):
{"series", "n", "model", "smape", "mase", "coverage_80", "coverage_95", "seconds"}
- sMAPE in percent, as in M4 (and analytics/src/forecasting/metrics.rs `smape`);
- MASE scaled as `mase_scale` there: the in-sample MAE of the seasonal naive forecast at lag 12
  when the training part has more than 12 points, at lag 1 otherwise; null when that scale is 0;
- coverage: the share of held-out points inside the interval, bounds included;
- seconds: fit and forecast of that one model, wall clock.
A model that fails or forecasts a non-finite value on a series is reported on stderr and has
no line. One untimed warm-up fit of every model comes first, so that first-call costs (imports,
compilation, caches) are not counted.

Usage: python statsforecast_baseline.py FILE.csv ...   (exit 3 without statsforecast)
"""

import json
import os
import sys
import time

HORIZON = 12
PERIOD = 12
LEVELS = (80, 95)
MODELS = ("AutoETS", "AutoTheta", "AutoARIMA")


def read(path):
    with open(path) as f:
        assert f.readline().strip() == "date,value", path
        return [float(line.rsplit(",", 1)[1]) for line in f if line.strip()]


def smape(actual, forecast):
    """Mean sMAPE in percent: 200 |y - f| / (|y| + |f|), 0 where both are 0."""
    points = []
    for a, f in zip(actual, forecast):
        denominator = abs(a) + abs(f)
        points.append(0.0 if denominator == 0 else 200.0 * abs(a - f) / denominator)
    return sum(points) / len(points)


def mase_scale(train, period=PERIOD):
    """As analytics/src/forecasting/metrics.rs: seasonal naive MAE, lag 1 if too short."""
    lag = period if period > 1 and len(train) > period else 1
    if len(train) <= lag:
        return None
    diffs = [abs(train[t] - train[t - lag]) for t in range(lag, len(train))]
    scale = sum(diffs) / len(diffs)
    return scale if scale > 0 and scale == scale and scale != float("inf") else None


def coverage(actual, lower, upper):
    return sum(1 for a, lo, hi in zip(actual, lower, upper) if lo <= a <= hi) / len(actual)


def make(name):
    from statsforecast import models

    return getattr(models, name)(season_length=PERIOD)


def evaluate(name, train, test):
    """One model's forecast judged on the held-out points, or None if it could not forecast."""
    import numpy as np

    started = time.perf_counter()
    out = make(name).fit(np.asarray(train, dtype=float)).predict(h=HORIZON, level=list(LEVELS))
    seconds = time.perf_counter() - started
    mean = [float(v) for v in out["mean"]]
    bounds = {f"{side}-{level}": [float(v) for v in out[f"{side}-{level}"]] for level in LEVELS for side in ("lo", "hi")}
    if not all(np.isfinite(v) for values in [mean, *bounds.values()] for v in values):
        return None
    scale = mase_scale(train)
    return {
        "smape": smape(test, mean),
        "mase": None if scale is None else sum(abs(a - f) for a, f in zip(test, mean)) / len(test) / scale,
        "coverage_80": coverage(test, bounds["lo-80"], bounds["hi-80"]),
        "coverage_95": coverage(test, bounds["lo-95"], bounds["hi-95"]),
        "seconds": seconds,
    }


def main():
    try:
        import numpy as np
        import statsforecast.models  # noqa: F401
    except ImportError:
        print("statsforecast is not installed", file=sys.stderr)
        sys.exit(3)
    # Warm-up, untimed: a seasonal series long enough for every model's seasonal search.
    t = np.arange(60.0)
    warm = 100 + t + 10 * np.sin(2 * np.pi * t / PERIOD)
    for name in MODELS:
        make(name).fit(warm).predict(h=HORIZON, level=list(LEVELS))
    failed = 0
    for path in sys.argv[1:]:
        y = read(path)
        train, test = y[:-HORIZON], y[-HORIZON:]
        series = os.path.splitext(os.path.basename(path))[0]
        for name in MODELS:
            try:
                result = evaluate(name, train, test)
            except Exception as error:  # a model that cannot fit this series is reported, not fatal
                result, reason = None, f"{type(error).__name__}: {error}"
            else:
                reason = "non-finite forecast or interval"
            if result is None:
                failed += 1
                print(f"{series}: {name} failed ({reason})", file=sys.stderr)
                continue
            print(json.dumps({"series": series, "n": len(y), "model": name, **result}), flush=True)
    sys.exit(1 if failed and failed == len(sys.argv[1:]) * len(MODELS) else 0)


if __name__ == "__main__":
    main()
