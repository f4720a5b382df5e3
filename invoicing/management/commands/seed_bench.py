"""`manage.py seed_bench --invoices N [--customers C] [--seed S] [--open-for-one K]`: a large,
realistic data set written in bulk through the books' rules (invoicing.seeding); prints
what it wrote and how long it took. `check_ledger` passes on the result."""

from django.core.management.base import BaseCommand

from invoicing.seeding import seed


class Command(BaseCommand):
    help = (
        "Write N invoices (with credit memos, payments, refunds, deposits, drafts and voids) "
        "in bulk, each posted one with its balanced entry; for benches."
    )

    def add_arguments(self, parser):
        parser.add_argument("--invoices", type=int, required=True, help="How many invoices.")
        parser.add_argument(
            "--customers", type=int, default=None, help="How many customers (default N // 10)."
        )
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument(
            "--open-for-one",
            type=int,
            default=0,
            metavar="K",
            help="Give one more customer K open invoices and one open credit (the picker's).",
        )
        parser.add_argument(
            "--no-audit", action="store_true", help="Skip the audit events (faster)."
        )

    def handle(self, *args, **options):
        report = seed(
            invoices=options["invoices"],
            customers=options["customers"],
            open_invoices_for_one=options["open_for_one"],
            rng_seed=options["seed"],
            audit=not options["no_audit"],
        )
        for line in report.lines():
            self.stdout.write(line)
