"""Exports public monthly series that PyPI packages ship offline, as `date,value` CSV files,
for `make eval-analytics` and `forecast-eval`.

Sources (all bundled with the package, nothing downloaded):
- sktime `load_airline`: international airline passengers, 1949-1960 (Box and Jenkins).
- sktime `load_shampoo_sales`: monthly shampoo sales over three years (Makridakis et al.).
- sktime `load_PBS_dataset`: Australian PBS scripts of one ATC group, 1991-2008.
- statsmodels `elnino`: monthly Niño 3 sea surface temperatures, 1950-2010.
- statsmodels `co2`: Mauna Loa weekly CO2, averaged per month (gaps interpolated).

Only strictly positive series are kept, as in M4: sMAPE is degenerate at zero, so an
intermittent count series (the PBS group above has months of zero scripts) would measure the
metric rather than the forecasts. That excludes the PBS series today; it stays in the list so
that a change of the data would be seen.

Series longer than 150 months are cut into consecutive, non-overlapping windows of 120 months
(`<name>_w1.csv`, ...; a shorter last window is kept if it has 48 months or more), so that the
evaluation sees more series of the length a personal-finance history has.

Usage: python export_datasets.py [OUT_DIR]   (default analytics/eval/data/public)
"""

import math
import os
import sys

WINDOW = 120
LONG = 150
MIN_POINTS = 36


def write(out_dir, name, dates, values):
    path = os.path.join(out_dir, f"{name}.csv")
    with open(path, "w") as f:
        f.write("date,value\n")
        for d, v in zip(dates, values):
            f.write(f"{d},{v:.6g}\n")
    return path


def emit(out_dir, name, dates, values):
    values = [float(v) for v in values]
    assert all(math.isfinite(v) for v in values), name
    if min(values) <= 0:
        print(f"skipping {name}: not strictly positive (as in M4)", file=sys.stderr)
        return []
    if len(values) <= LONG:
        return [write(out_dir, name, dates, values)] if len(values) >= MIN_POINTS else []
    written = []
    for i, start in enumerate(range(0, len(values), WINDOW), 1):
        chunk = slice(start, start + WINDOW)
        if len(values[chunk]) >= 48:
            written.append(write(out_dir, f"{name}_w{i}", dates[chunk], values[chunk]))
    return written


def month_dates(period_index):
    return [f"{p.year:04d}-{p.month:02d}-01" for p in period_index]


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "analytics/eval/data/public"
    os.makedirs(out_dir, exist_ok=True)
    import statsmodels.datasets as smd
    from sktime.datasets import load_airline, load_PBS_dataset, load_shampoo_sales

    written = []
    for name, loader in [("airline", load_airline), ("shampoo", load_shampoo_sales), ("pbs", load_PBS_dataset)]:
        y = loader()
        written += emit(out_dir, name, month_dates(y.index), y.values)

    elnino = smd.elnino.load_pandas().data
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    dates, values = [], []
    for _, row in elnino.iterrows():
        for m, col in enumerate(months, 1):
            dates.append(f"{int(row['YEAR']):04d}-{m:02d}-01")
            values.append(row[col])
    written += emit(out_dir, "elnino", dates, values)

    co2 = smd.co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    co2 = co2.dropna()
    written += emit(out_dir, "co2", [d.strftime("%Y-%m-01") for d in co2.index], co2.values)

    for path in written:
        print(path)
    print(f"{len(written)} series written to {out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
