"""statsforecast's AutoETS on the same held-out split as `forecast-eval`, for comparison.

For each `date,value` CSV: hold out the last 12 points, fit AutoETS(season_length=12) on the
rest, forecast 12 with an 80 % interval, and print one JSON line:
{"series", "n", "smape", "coverage_80", "seconds"} (sMAPE in percent, as in M4).
One untimed warm-up fit first, so numba's compilation is not counted.

Usage: python statsforecast_baseline.py FILE.csv ...   (exit 3 without statsforecast)
"""

import json
import os
import sys
import time


def read(path):
    with open(path) as f:
        assert f.readline().strip() == "date,value", path
        return [float(line.rsplit(",", 1)[1]) for line in f if line.strip()]


def main():
    try:
        import numpy as np
        from statsforecast.models import AutoETS
    except ImportError:
        print("statsforecast is not installed", file=sys.stderr)
        sys.exit(3)
    AutoETS(season_length=12).fit(np.arange(1.0, 49.0)).predict(h=12, level=[80])
    for path in sys.argv[1:]:
        y = np.array(read(path))
        train, test = y[:-12], y[-12:]
        started = time.perf_counter()
        model = AutoETS(season_length=12).fit(train)
        out = model.predict(h=12, level=[80])
        seconds = time.perf_counter() - started
        mean, lo, hi = out["mean"], out["lo-80"], out["hi-80"]
        denominator = np.abs(test) + np.abs(mean)
        smape = float(np.mean(np.where(denominator == 0, 0.0, 200 * np.abs(test - mean) / np.where(denominator == 0, 1, denominator))))
        coverage = float(np.mean((test >= lo) & (test <= hi)))
        name = os.path.splitext(os.path.basename(path))[0]
        print(json.dumps({"series": name, "n": len(y), "smape": smape, "coverage_80": coverage, "seconds": seconds}))


if __name__ == "__main__":
    main()
