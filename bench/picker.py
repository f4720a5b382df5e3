"""The Apply Credit picker for a customer with 10,000 open invoices vs one with 10, in one
run: the screen's GET, a search, and the "Apply oldest first" POST (htmx). Prints the
median time, HTML bytes and queries of each, and the ratio 10,000 / 10 (goal ≤ 1.5×).

.venv/bin/python bench/picker.py          # SQLite in a temp dir
BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditdesk_bench .venv/bin/python bench/picker.py

Both customers get a posted credit memo of 500.00 and invoices of 100.00, so "Apply
oldest first" fills the same 5 rows for both. The 10,000 are 10 posted invoices plus 9,990
copies inserted in bulk (open, posted, no journal entries: the books don't tie out, which
the picker doesn't look at). Runs are interleaved (small, large, small, …) so load on the
machine hits both alike.
"""

import datetime
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import QueryCounter, machine, setup  # noqa: E402

LARGE = 10_000
SMALL = 10
RUNS = int(os.environ.get("BENCH_RUNS", "15"))


def main():
    setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from customers.models import Customer
    from invoicing import services
    from invoicing.models import Document, DocumentKind, Item, TaxProfile

    User = get_user_model()
    poster = User.objects.create(username="bench-poster")
    poster.groups.add(Group.objects.get(name="Poster"))
    poster = User.objects.get(pk=poster.pk)
    item, out = Item.objects.get(code="SVC"), TaxProfile.objects.get(code="OUT")
    date = datetime.date(2026, 11, 1)

    def line(price):
        return services.LineInput(
            item=item, quantity=Decimal(1), unit_price=Decimal(price), tax_profile=out
        )

    def customer_with(n: int, code: str):
        customer = Customer.objects.create(code=code, name=f"Bench {n} open")
        template = None
        for i in range(min(n, SMALL)):
            doc = services.document_create(
                customer=customer,
                date=date - datetime.timedelta(days=60 - i),
                lines=[line("100.00")],
                by=poster,
            )
            template = services.document_post(document=doc, by=poster)
        Document.objects.bulk_create(
            [
                Document(
                    kind=template.kind,
                    number=f"{code}-{i:07d}",
                    customer=customer,
                    date=template.date,
                    billing_terms=template.billing_terms,
                    due_date=template.due_date + datetime.timedelta(days=1 + i // 20),
                    description=f"Bulk copy {i}",
                    status=template.status,
                    subtotal=template.subtotal,
                    grand_total=template.grand_total,
                    balance_due=template.balance_due,
                    created_by=poster,
                    updated_by=poster,
                    posted_by=poster,
                    posted_at=template.posted_at,
                )
                for i in range(n - SMALL)
            ],
            batch_size=2000,
        )
        memo = services.document_create(
            kind=DocumentKind.CREDIT_MEMO,
            customer=customer,
            date=date,
            lines=[line("500.00")],
            reason="goodwill",
            by=poster,
        )
        memo = services.document_post(document=memo, by=poster)
        assert Document.objects.filter(customer=customer, balance_due__gt=0).count() == n
        return memo

    t0 = time.perf_counter()
    memos = {SMALL: customer_with(SMALL, "S"), LARGE: customer_with(LARGE, "L")}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
    seeded = time.perf_counter() - t0

    client = Client(HTTP_HOST="localhost")
    client.force_login(poster)

    def requests(memo):
        url = reverse("invoicing:apply", args=[memo.pk])
        first = Document.objects.filter(customer=memo.customer, balance_due__gt=0).order_by(
            "due_date", "date", "id"
        )[0]
        form = {"date": "2026-11-20", "key": "bench", "shown_q": "", "page": "1"}
        return {
            "GET screen": lambda: client.get(url),
            "search (number)": lambda: client.get(url, {"q": first.number}),
            "Apply oldest first": lambda: client.post(
                url, dict(form, action="fill"), HTTP_HX_REQUEST="true"
            ),
        }

    plans = {n: requests(memo) for n, memo in memos.items()}
    results = {(n, name): [] for n in plans for name in plans[n]}
    for run in range(RUNS + 1):  # the first round warms up and is not counted
        for n in (SMALL, LARGE):
            for name, call in plans[n].items():
                counter = QueryCounter()
                with connection.execute_wrapper(counter):
                    start = time.perf_counter()
                    response = call()
                    took = time.perf_counter() - start
                assert response.status_code == 200, (name, response.status_code)
                if run:
                    results[(n, name)].append((took, len(response.content), counter.count))
    filled = plans[LARGE]["Apply oldest first"]().content.decode()
    assert "Apply oldest first: 500.00 to 5 invoices" in filled, filled[:500]

    print(f"Apply Credit picker, {LARGE:,} vs {SMALL} open invoices — {machine()}")
    print(f"seeded in {seeded:.1f} s; median of {RUNS} interleaved runs; load {_load()}")
    print(f"{'request':<20} {'open':>7} {'ms':>8} {'bytes':>9} {'queries':>8}")
    worst = 0.0
    for name in plans[SMALL]:
        medians = {}
        for n in (SMALL, LARGE):
            rows = results[(n, name)]
            ms = statistics.median(r[0] for r in rows) * 1000
            size = rows[-1][1]
            queries = rows[-1][2]
            medians[n] = ms
            print(f"{name:<20} {n:>7,} {ms:>8.1f} {size:>9,} {queries:>8}")
        ratio = medians[LARGE] / medians[SMALL]
        worst = max(worst, ratio)
        print(f"{'':<20} {'ratio':>7} {ratio:>7.2f}×")
    print(f"worst ratio {worst:.2f}× (goal ≤ 1.5×): {'OK' if worst <= 1.5 else 'OVER'}")


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


if __name__ == "__main__":
    main()
