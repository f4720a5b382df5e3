"""Queries and time per desk page at 10 vs 10,000 rows, printed as ratios (issue 14).

The pages: the Invoices hub (first page and page 200), Credits, Payments & Refunds,
Deposits, Customers, a customer page, and the pages of an invoice, a credit memo, a
payment, a refund and a deposit — each a full GET through Django's test Client (session,
user, roles, view, template). The same documents are measured at both sizes: they are
made through the services first (one of each, every section filled), then
`invoicing.seeding.seed` adds the rows around them (bulk, rules-respecting): 10 invoices
first, then 10,000. Each page is fetched ROUNDS times (default 15), medians printed.

.venv/bin/python bench/pages.py                  # SQLite in a temp dir
BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditdesk_bench .venv/bin/python bench/pages.py
"""

import datetime
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import analyze, machine, setup  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 15))
SMALL, LARGE = 10, int(os.environ.get("BENCH_LARGE", 10_000))
LIMIT = 8  # the goal: queries per page


def one_of_each(rep, poster):
    """A customer and one document of each kind whose page has every section filled."""
    from customers.models import Customer
    from invoicing import services
    from invoicing.allocator import Allocation
    from invoicing.models import DocumentKind, Item, TaxProfile
    from invoicing.services import LineInput

    day = datetime.date.today() - datetime.timedelta(days=3)
    customer = Customer.objects.create(code="BENCH", name="Bench Customer")

    def doc(kind, item, qty, price, lines=1):
        line = LineInput(
            item=Item.objects.get(code=item),
            quantity=Decimal(qty),
            unit_price=Decimal(price),
            tax_profile=TaxProfile.objects.get(code="OUT"),
        )
        draft = services.document_create(
            kind=kind, customer=customer, date=day, lines=[line] * lines, by=rep
        )
        return services.document_post(document=draft, by=poster)

    invoice = doc(DocumentKind.INVOICE, "SVC", "1", "10.00", lines=20)
    memo = doc(DocumentKind.CREDIT_MEMO, "REW", "-1", "25.00")
    services.credit_apply(
        source=memo, allocations=[Allocation(document=invoice, amount=Decimal("10"))], by=rep
    )
    deposit = services.deposit_post(
        deposit=services.deposit_record(
            customer=customer, date=day, method="check", amount=Decimal("50"), by=rep
        ),
        by=poster,
    )
    services.deposit_apply(deposit=deposit, invoice=invoice, amount=Decimal("5"), by=rep)
    payment = services.payment_record(
        customer=customer, by=rep, date=day, method="check", amount=Decimal("500")
    )
    payment = services.document_post(document=payment, by=poster)
    refund = services.refund_prepare(
        document=payment, by=rep, amount=Decimal("20"), method="check", date=day
    )
    return customer, {
        "invoice": invoice,
        "credit memo": memo,
        "payment": payment,
        "refund": refund,
        "deposit": deposit,
    }


def measure(client, pages):
    """{page: (queries, median ms, KB)} with the pages fetched round-robin."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = {name: [] for name in pages}
    counts, sizes = {}, {}
    for url in pages.values():  # warm-up (content types, templates)
        assert client.get(url).status_code == 200, url
    for _ in range(ROUNDS):
        for name, url in pages.items():
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                response = client.get(url)
                times[name].append(time.perf_counter() - started)
            assert response.status_code == 200, url
            counts[name] = len(ctx.captured_queries)
            sizes[name] = len(response.content) / 1024
    return {n: (counts[n], statistics.median(times[n]) * 1000, sizes[n]) for n in pages}


def main():
    setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from invoicing.models import Document, DocumentKind
    from invoicing.seeding import seed

    setup_test_environment()  # the test Client's host
    users = get_user_model().objects
    rep = users.create_user("bench-rep", password="x")
    rep.groups.add(Group.objects.get(name="A/R rep"))
    poster = users.create_user("bench-poster", password="x")
    poster.groups.add(Group.objects.get(name="Poster"))
    customer, documents = one_of_each(rep, poster)
    pages = {
        "hub": reverse("invoicing:list"),
        "hub page 200": reverse("invoicing:list") + "?page=200",
        "credits": reverse("invoicing:list") + "?type=credits",
        "payments": reverse("payments:list"),
        "deposits": reverse("deposits:list"),
        "customers": reverse("customers:list"),
        "customer page": customer.get_absolute_url(),
        **{name: obj.get_absolute_url() for name, obj in documents.items()},
    }
    client = Client()
    client.force_login(poster)
    invoices = lambda: Document.objects.filter(kind=DocumentKind.INVOICE).count()  # noqa: E731

    seed(invoices=SMALL - invoices(), customers=3, rng_seed=5, audit=False)
    analyze()
    small_rows = invoices()
    small = measure(client, {k: v for k, v in pages.items() if k != "hub page 200"})
    started = time.perf_counter()
    report = seed(invoices=LARGE - invoices(), customers=max(LARGE // 10, 1), rng_seed=6)
    seeded = time.perf_counter() - started
    analyze()
    large = measure(client, pages)

    print(f"bench/pages.py — {machine()}; {ROUNDS} rounds, medians")
    print(
        f"seeded {report.documents} documents for {LARGE} invoices in {seeded:.1f} s; "
        f"small set: {small_rows} invoices"
    )
    print(
        f"{'page':<15} {'q@10':>5} {'q@10k':>6} {'ms@10':>8} {'ms@10k':>8} {'ratio':>6} "
        f"{'KB@10k':>7}"
    )
    worst = 0
    for name in pages:
        q_large, ms_large, kb = large[name]
        q_small, ms_small, _ = small.get(name, small["hub"] if name.startswith("hub") else None)
        worst = max(worst, q_large)
        print(
            f"{name:<15} {q_small:>5} {q_large:>6} {ms_small:>8.1f} {ms_large:>8.1f} "
            f"{ms_large / ms_small:>5.2f}x {kb:>7.1f}"
        )
    same = all(large[n][0] == small.get(n, small["hub"])[0] for n in pages)
    print(
        f"queries per page: at most {worst} (goal <= {LIMIT}); equal at {SMALL} and {LARGE} "
        f"rows: {'yes' if same else 'NO'}"
    )


if __name__ == "__main__":
    main()
