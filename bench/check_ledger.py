"""check_ledger at 2,000, 20,000 and 200,000 documents (and 1,000,000 with --million), from
one run: the books are seeded in bulk (invoicing.seeding, growing from one size to the
next), then the full check (`run_all`) and the fast tie-out (`run_fast`) run ROUNDS times
each (default 3); medians, queries and the ratios between sizes are printed (linear ≈ 10×
for 10× the documents).

.venv/bin/python bench/check_ledger.py                      # SQLite in a temp dir
BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditdesk_bench \\
    .venv/bin/python bench/check_ledger.py [--million]
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import QueryCounter, machine, setup  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
SIZES = [2_000, 20_000, 200_000]


def main():
    sizes = SIZES + ([1_000_000] if "--million" in sys.argv else [])
    setup()
    from django.db import connection

    from customers.models import Customer
    from invoicing.models import Deposit, Document
    from invoicing.seeding import seed
    from ledger.checks import run_all, run_fast

    def documents() -> int:
        return Document.objects.count() + Deposit.objects.count()

    def measure(run) -> tuple[float, int]:
        times, queries = [], 0
        for _ in range(ROUNDS):
            counter = QueryCounter()
            with connection.execute_wrapper(counter):
                started = time.perf_counter()
                results = run()
                times.append(time.perf_counter() - started)
            queries = counter.count
            failed = [p for r in results for p in r.problems]
            if failed:
                raise SystemExit("check_ledger failed on the seeded books:\n" + "\n".join(failed))
        return statistics.median(times), queries

    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    rows, rng = [], 1
    for target in sizes:
        # About 1.68 documents per invoice (credit memos, payments, refunds, deposits).
        missing = target - documents()
        while missing > target // 100:  # within 1%
            invoices = max(1, round(missing / 1.68))
            customers = max(1, invoices // 10)
            report = seed(invoices=invoices, customers=customers, rng_seed=rng, audit=False)
            rng += 1
            print(f"  seeded {report.documents:,} documents in {report.seconds:.1f} s")
            missing = target - documents()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        n = documents()
        full, full_q = measure(run_all)
        fast, fast_q = measure(run_fast)
        rows.append((n, full, full_q, fast, fast_q))
        print(
            f"{n:>10,} documents ({Customer.objects.count():,} customers): "
            f"full {full:7.3f} s, {full_q} queries; fast {fast:7.3f} s, {fast_q} queries"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    for (n1, full1, _, fast1, _), (n2, full2, _, fast2, _) in zip(rows, rows[1:], strict=False):
        print(
            f"ratio {n2:,}/{n1:,} documents ({n2 / n1:.1f}×): full {full2 / full1:.1f}×, "
            f"fast {fast2 / fast1:.1f}×"
        )


if __name__ == "__main__":
    main()
