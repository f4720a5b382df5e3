"""`manage.py check_ledger`: verify the books' invariants; exit 1 on any failure."""

import sys

from django.core.management.base import BaseCommand

from ledger.checks import run_all


class Command(BaseCommand):
    help = "Verify the accounting invariants of ledger/ACCOUNTING.md and print a short report."

    def handle(self, *args, **options):
        results = run_all()
        failed = 0
        for result in results:
            mark = "ok  " if result.ok else "FAIL"
            self.stdout.write(f"[{mark}] invariant {result.invariant}: {result.title}")
            for line in result.report:
                self.stdout.write(f"        {line}")
            for problem in result.problems:
                self.stdout.write(f"        ! {problem}")
            failed += not result.ok
        if failed:
            self.stdout.write(self.style.ERROR(f"{failed} check(s) failed."))
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS("All ledger checks passed."))
