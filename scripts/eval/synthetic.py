"""A synthetic personal-finance generator with known seasonality, for `make eval-analytics`.

Each series is one person's monthly spending:
    value_t = (base + trend * t) * season[month_t] * exp(noise_t) + one_off_t
- base level uniform in 1,500..4,000 and a slow trend of -0.3 %..+0.6 % of base per month;
- a known yearly pattern: December +35 %, November +10 %, a summer travel bump in July (+25 %)
  and August (+15 %), January -10 % and February -5 %, normalised to mean 1;
- log-normal noise with sigma 0.06..0.12;
- one-off purchases (probability 4 % a month) of 20 %..80 % of base.
Lengths are 36..72 months, starting January 2019. The seed fixes every value.

Usage: python synthetic.py [OUT_DIR] [COUNT] [SEED]
       (defaults analytics/eval/data/synthetic, 20, 2026)
"""

import math
import os
import random
import sys

SEASON = {1: 0.90, 2: 0.95, 3: 1.0, 4: 1.0, 5: 1.0, 6: 1.0, 7: 1.25, 8: 1.15, 9: 1.0, 10: 1.0, 11: 1.10, 12: 1.35}
MEAN = sum(SEASON.values()) / 12


def series(rng):
    n = rng.randint(36, 72)
    base = rng.uniform(1500, 4000)
    trend = base * rng.uniform(-0.003, 0.006)
    sigma = rng.uniform(0.06, 0.12)
    rows = []
    for t in range(n):
        year, month = 2019 + t // 12, t % 12 + 1
        value = (base + trend * t) * SEASON[month] / MEAN * math.exp(rng.gauss(0, sigma))
        if rng.random() < 0.04:
            value += base * rng.uniform(0.2, 0.8)
        rows.append((f"{year:04d}-{month:02d}-01", round(max(value, 0.0), 2)))
    return rows


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "analytics/eval/data/synthetic"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 2026)
    os.makedirs(out_dir, exist_ok=True)
    for i in range(1, count + 1):
        path = os.path.join(out_dir, f"synthetic_{i:02d}.csv")
        with open(path, "w") as f:
            f.write("date,value\n")
            for date, value in series(rng):
                f.write(f"{date},{value:.2f}\n")
        print(path)


if __name__ == "__main__":
    main()
