"""A messy export as users bring them: a row id, a date, a text category, empty feature and label cells, a
column that leaks the label, and a yes/no label whose interesting class ("no": the customer left) is the smaller."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np

HEADER = "customer_id,signup_date,plan,tenure_months,monthly_charges,support_calls,age,cancel_fee,renewed"
EMPTY_TENURE = (5, 61, 140)  # rows with an empty tenure_months cell
EMPTY_CHARGES = (17, 99)  # rows with an empty monthly_charges cell
EMPTY_LABEL = (8, 44, 120, 177)  # rows with an empty renewed cell


def messy_rows(n: int = 200, seed: int = 13) -> list[str]:
    """The export's data lines (no header), seeded."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(n) + 10_000
    tenure = rng.uniform(1, 72, n).round(1)
    charges = rng.uniform(20, 120, n).round(2)
    calls = rng.poisson(2, n)
    age = rng.integers(18, 80, n)
    plan = rng.choice(["basic", "plus", "pro"], n)
    score = -0.08 * tenure + 0.03 * charges + 0.6 * calls - 1.0 + rng.normal(0, 0.8, n)
    left = score > np.median(score)
    lines = []
    for i in range(n):
        signup = date(2020, 1, 1) + timedelta(days=int(rng.integers(0, 1500)))
        fee = f"{rng.uniform(20, 60):.2f}" if left[i] else "0"
        cells = [str(ids[i]), signup.isoformat(), str(plan[i]), "" if i in EMPTY_TENURE else f"{tenure[i]}",
                 "" if i in EMPTY_CHARGES else f"{charges[i]}", str(calls[i]), str(age[i]), fee,
                 "" if i in EMPTY_LABEL else ("no" if left[i] else "yes")]
        lines.append(",".join(cells))
    return lines


def write_messy(path: Path, n: int = 200, seed: int = 13) -> Path:
    path.write_text("\n".join([HEADER, *messy_rows(n, seed)]) + "\n")
    return path


if __name__ == "__main__":
    import sys

    write_messy(Path(sys.argv[1]))
