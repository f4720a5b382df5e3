"""A/R aging at volume: the summary's first page of 50 customers (as of today and as of a
past date) against a bare `GROUP BY customer` scan of the same open items, measured in one
run, interleaved, medians; plus the aging page's query count and the tie-out query.

.venv/bin/python bench/aging.py                      # 100,000 invoices, 10,000 customers
.venv/bin/python bench/aging.py --million            # 1,000,000 invoices, 100,000 customers
BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditdesk_bench .venv/bin/python bench/aging.py --million
"""

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import QueryCounter, machine, setup  # noqa: E402

ROUNDS = 7


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def reuse():
    """Django on BENCH_DATABASE_URL as it is (no fresh schema): for a data set seeded by an
    earlier run, since seeding a million invoices takes long on a small machine."""
    import os

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "1"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--million", action="store_true", help="1,000,000 over 100,000")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the data already in BENCH_DATABASE_URL (seeded by an earlier run)",
    )
    args = parser.parse_args()
    invoices = 1_000_000 if args.million else args.invoices
    customers = 100_000 if args.million else (args.customers or max(1, invoices // 10))

    if args.reuse:
        reuse()
    else:
        setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.db.models import Count, Q
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from customers.models import Customer
    from invoicing.models import Document, DocumentKind, DocumentStatus
    from invoicing.seeding import seed
    from invoicing.selectors.aging import aging_summary
    from ledger.models import SystemRole
    from ledger.selectors import account_balance

    print(f"machine: {machine()}")
    if not args.reuse:
        report = seed(invoices=invoices, customers=customers, audit=False)
        for line in report.lines():
            print(f"seed: {line}")
    counts = Document.objects.aggregate(
        documents=Count("id"), invoices=Count("id", filter=Q(kind=DocumentKind.INVOICE))
    )
    print(
        f"books: {counts['documents']:,} documents, {counts['invoices']:,} invoices, "
        f"{Customer.objects.count():,} customers"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")

    table = Document._meta.db_table
    bare_sql = (
        f"SELECT customer_id, SUM(balance_due) FROM {table} "  # noqa: S608 - our table
        "WHERE status = %s AND balance_due <> 0 GROUP BY customer_id"
    )

    def bare():
        with connection.cursor() as cursor:
            cursor.execute(bare_sql, [DocumentStatus.POSTED])
            cursor.fetchall()

    today = timezone.localdate()
    past = today - datetime.timedelta(days=90)
    open_items = Document.objects.filter(status=DocumentStatus.POSTED).exclude(balance_due=0)
    print(f"open items today: {open_items.count():,}")

    def today_page():
        assert len(aging_summary(today, limit=50).rows) == 50

    def past_page():
        aging_summary(past, limit=50)

    def tie_out():
        account_balance(SystemRole.RECEIVABLE, as_of=today)

    runs = {"bare GROUP BY": [], "aging today": [], "aging 90 days ago": [], "tie-out": []}
    for fn in (bare, today_page, past_page, tie_out):  # warm the caches once
        fn()
    for _ in range(ROUNDS):
        runs["bare GROUP BY"].append(timed(bare))
        runs["aging today"].append(timed(today_page))
        runs["aging 90 days ago"].append(timed(past_page))
        runs["tie-out"].append(timed(tie_out))
    med = {name: statistics.median(times) for name, times in runs.items()}
    for name, value in med.items():
        print(f"{name:>18}: {value * 1000:8.1f} ms (median of {ROUNDS})")
    print(f"ratio aging today / bare GROUP BY: {med['aging today'] / med['bare GROUP BY']:.2f}x")
    print(
        f"ratio aging 90 days ago / bare GROUP BY: "
        f"{med['aging 90 days ago'] / med['bare GROUP BY']:.2f}x"
    )
    print(
        "ratio aging today + tie-out / bare GROUP BY: "
        f"{(med['aging today'] + med['tie-out']) / med['bare GROUP BY']:.2f}x"
    )

    # The page itself: its query count, at this volume (it doesn't grow with rows).
    User = get_user_model()
    user, _ = User.objects.get_or_create(username="bench-aging")
    user.groups.add(Group.objects.get(name="A/R rep"))
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    url = reverse("reports:aging")
    client.get(url)
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        t0 = time.perf_counter()
        response = client.get(url)
        page_time = time.perf_counter() - t0
    assert response.status_code == 200
    assert b"Ties out" in response.content, "the tie-out line is not green"
    print(
        f"aging page (GET, first 50 customers): {page_time * 1000:.0f} ms, {counter.count} queries"
    )


if __name__ == "__main__":
    main()
