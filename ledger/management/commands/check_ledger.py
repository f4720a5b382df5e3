"""`manage.py check_ledger [--fast]`: verify the books' invariants; exit 1 on any failure.
`--fast` runs only the cheap tie-outs (debits = credits, A/R control = open items, Customer
Deposits = unused deposits: a few aggregate queries), as the dashboard does live."""

import sys
import time

from django.core.management.base import BaseCommand

from ledger.checks import run_all, run_fast


class Command(BaseCommand):
    help = "Verify the accounting invariants of ledger/ACCOUNTING.md and print a short report."

    def add_arguments(self, parser):
        parser.add_argument(
            "--fast",
            action="store_true",
            help="Only the totals tie-outs (debits = credits, A/R control = open items, "
            "Customer Deposits = unused deposits).",
        )

    def handle(self, *args, **options):
        started = time.perf_counter()
        results = run_fast() if options["fast"] else run_all()
        failed = 0
        for result in results:
            mark = "ok  " if result.ok else "FAIL"
            self.stdout.write(f"[{mark}] invariant {result.invariant}: {result.title}")
            for line in result.report:
                self.stdout.write(f"        {line}")
            for problem in result.problems:
                self.stdout.write(f"        ! {problem}")
            failed += not result.ok
        took = f" ({time.perf_counter() - started:.2f} s)"
        if failed:
            self.stdout.write(self.style.ERROR(f"{failed} check(s) failed.{took}"))
            sys.exit(1)
        what = "fast ledger checks" if options["fast"] else "ledger checks"
        self.stdout.write(self.style.SUCCESS(f"All {what} passed.{took}"))
