"""Apply one credit to 500 open invoices in one submit; print wall time and query count.

.venv/bin/python bench/apply_credit.py          # SQLite in a temp dir
BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditdesk_bench .venv/bin/python bench/apply_credit.py
"""

import datetime
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import QueryCounter, machine, setup  # noqa: E402

N = 500


def main():
    setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from customers.models import Customer
    from invoicing import services
    from invoicing.models import DocumentKind, Item, TaxProfile

    User = get_user_model()
    poster = User.objects.create(username="bench-poster")
    poster.groups.add(Group.objects.get(name="Poster"))
    poster = User.objects.get(pk=poster.pk)
    customer = Customer.objects.create(code="BENCH", name="Bench Customer")
    item, out = Item.objects.get(code="SVC"), TaxProfile.objects.get(code="OUT")
    date = datetime.date(2026, 11, 1)

    def line(price):
        return services.LineInput(
            item=item, quantity=Decimal(1), unit_price=Decimal(price), tax_profile=out
        )

    t0 = time.perf_counter()
    invoices = []
    for _ in range(N):
        doc = services.document_create(
            customer=customer, date=date, lines=[line("10.00")], by=poster
        )
        invoices.append(services.document_post(document=doc, by=poster))
    memo = services.document_create(
        kind=DocumentKind.CREDIT_MEMO,
        customer=customer,
        date=date,
        lines=[line(f"{N * 10}.00")],
        by=poster,
    )
    memo = services.document_post(document=memo, by=poster)
    seeded = time.perf_counter() - t0

    client = Client(HTTP_HOST="localhost")
    client.force_login(poster)
    url = reverse("invoicing:apply", args=[memo.pk])
    screen_q = QueryCounter()
    with connection.execute_wrapper(screen_q):
        t1 = time.perf_counter()
        response = client.get(url)
        screen = time.perf_counter() - t1
    assert response.status_code == 200

    data = {"date": "2026-11-20", "key": "bench", "action": "apply"}
    data.update({f"amount_{inv.pk}": "10.00" for inv in invoices})
    apply_q = QueryCounter()
    with connection.execute_wrapper(apply_q):
        t2 = time.perf_counter()
        response = client.post(url, data)
        applied = time.perf_counter() - t2
    assert response.status_code == 302, response.status_code
    memo.refresh_from_db()
    assert memo.balance_due == 0

    print(f"machine: {machine()}")
    print(f"seeded {N} posted invoices + 1 credit memo in {seeded:.1f} s")
    print(f"apply screen (GET, {N} rows): {screen * 1000:.0f} ms, {screen_q.count} queries")
    print(
        f"apply {N} rows in one submit (POST, whole request): {applied * 1000:.0f} ms, {apply_q.count} queries"
    )


if __name__ == "__main__":
    main()
