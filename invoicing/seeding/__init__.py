"""A large, realistic data set written in bulk (`manage.py seed_bench`, the benches, tests).

`seed(invoices=N)` writes customers and their invoices, credit memos made from them,
payments, refunds of overpayments (released and pending), customer deposits and their
applications, drafts, cancelled drafts and voids — each row as the services would leave
it, but many at a time: rows are built in memory and written per chunk in one
transaction, with PostgreSQL's COPY (multi-row `bulk_create` elsewhere).

What the books' rules ask is kept, so `manage.py check_ledger` passes on the result:

- every posted document has its one balanced posting entry (A/R lines name the customer;
  revenue by the item's account, Sales Tax Payable, the cash account of the method), a
  void its exact reverse (line by line) as a new entry, and the document's `balance_due`
  is its total less what is applied; a deposit posts to Customer Deposits and an
  application of it writes its own entry;
- applications pair posted documents of one customer (positive target, negative source),
  each in its own batch, dated on or after both documents; a few are removed (history);
- numbers come from `DocumentSequence`: each chunk locks the sequence rows, takes numbers
  after `last_number` and advances it, so a document created afterwards through the
  services gets the next number;
- every date lies in the business-date range (after the books-closed date, not after
  today); each journal entry is written with its lines in the same transaction (the
  PostgreSQL triggers refuse lines added to an entry of another transaction, and check
  each entry balances at commit); nothing is updated after it is written;
- the audit trail gets the events the services write (created, journal entry posted,
  posted, applied, voided…), unless `audit=False`.
"""

import random
import time

from django.db import transaction

from invoicing.seeding.rows import SeedReport
from invoicing.seeding.stories import Seeder
from invoicing.seeding.writer import CHUNK

__all__ = ["CHUNK", "SeedReport", "seed"]


def seed(
    *,
    invoices: int,
    customers: int | None = None,
    open_invoices_for_one: int = 0,
    rng_seed: int = 1,
    audit: bool = True,
    chunk: int = CHUNK,
    days: int = 540,
) -> SeedReport:
    """Write `invoices` invoices (and what follows them) over `customers` new customers
    (default max(1, invoices // 10)), dated over the last `days` days within the business
    dates. With `open_invoices_for_one` = K, one more customer gets K posted, open invoices
    (oldest due first, nothing else on them) and one open credit to apply to them."""
    started = time.perf_counter()
    customers = max(1, invoices // 10) if customers is None else max(1, customers)
    seeder = Seeder(rng=random.Random(rng_seed), audit=audit, days=days)
    report = seeder.report
    with transaction.atomic():
        pool = seeder.customers(customers)
        special = seeder.customers(1)[0] if open_invoices_for_one else None
        seeder.flush()
    _in_chunks(seeder, invoices, chunk, lambda: seeder.invoice_story(seeder.rng.choice(pool)))
    if special is not None:
        _in_chunks(seeder, open_invoices_for_one, chunk, lambda: seeder.open_invoice(special))
        with transaction.atomic():
            seeder.lock_sequences()
            report.open_for_one_credit_id = seeder.open_credit(special)
            seeder.flush()
            seeder.save_sequences()
        report.open_for_one_customer_id = special.id
    report.seconds = time.perf_counter() - started
    return report


def _in_chunks(seeder: Seeder, total: int, chunk: int, one) -> None:
    """Call `one()` `total` times, `chunk` at a time, each chunk in one transaction that
    takes its numbers from the locked sequences and writes its rows."""
    done = 0
    while done < total:
        n = min(chunk, total - done)
        with transaction.atomic():
            seeder.lock_sequences()
            for _ in range(n):
                one()
            seeder.flush()
            seeder.save_sequences()
        done += n
