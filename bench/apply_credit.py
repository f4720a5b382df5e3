"""Apply one credit to 500 open invoices, three ways, from one run; print times, queries
and ratios:

- the app: the real POST of the Apply Credit form (whole request: session, user, roles,
  form, service), and the service alone (its own statements);
- a naive per-row ORM loop (lock, create, save both documents, audit — per invoice);
- one set-based SQL statement (insert the applications and move both balances).

Each way runs ROUNDS times (default 3) on fresh invoices, interleaved; medians printed.

.venv/bin/python bench/apply_credit.py          # SQLite in a temp dir (no SQL statement)
BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditdesk_bench .venv/bin/python bench/apply_credit.py
"""

import datetime
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import QueryCounter, machine, setup, user_in  # noqa: E402

N = int(os.environ.get("BENCH_N", 500))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
DATE = datetime.date(2026, 11, 1)
APPLY_DATE = datetime.date(2026, 11, 20)


def main():
    setup()
    from django.db import connection, transaction
    from django.test import Client
    from django.urls import reverse

    from customers.models import Customer
    from invoicing import services
    from invoicing.allocator import Allocation
    from invoicing.models import (
        Application,
        ApplicationBatch,
        Document,
        DocumentKind,
        Item,
        TaxProfile,
    )
    from invoicing.services.posting import documents_post_batch
    from ledger.models import AuditAction, AuditEvent

    poster = user_in("Poster", "bench-poster")
    item, out = Item.objects.get(code="SVC"), TaxProfile.objects.get(code="OUT")

    def line(price):
        return services.LineInput(
            item=item, quantity=Decimal(1), unit_price=Decimal(price), tax_profile=out
        )

    def seed(code):
        """A customer with N posted invoices of 10.00 and one posted credit of N × 10.00."""
        customer = Customer.objects.create(code=code, name=f"Bench {code}")
        drafts = [
            services.document_create(customer=customer, date=DATE, lines=[line("10.00")], by=poster)
            for _ in range(N)
        ]
        memo = services.document_create(
            kind=DocumentKind.CREDIT_MEMO,
            customer=customer,
            date=DATE,
            lines=[line(f"{N * 10}.00")],
            by=poster,
        )
        posted = documents_post_batch(documents=[*drafts, memo], by=poster).posted
        by_pk = {d.pk: d for d in posted}
        return [by_pk[d.pk] for d in drafts], by_pk[memo.pk]

    def timed(fn, *args):
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            t = time.perf_counter()
            fn(*args)
            elapsed = time.perf_counter() - t
        return elapsed, counter.count

    client = Client(HTTP_HOST="localhost")
    client.force_login(poster)

    def app_post(invoices, memo, key):
        data = {"date": APPLY_DATE.isoformat(), "key": key, "action": "apply"}
        data.update({f"amount_{inv.pk}": "10.00" for inv in invoices})
        response = client.post(reverse("invoicing:apply", args=[memo.pk]), data)
        assert response.status_code == 302, response.status_code

    def service_only(invoices, memo, key):
        services.credit_apply(
            source=memo,
            allocations=[Allocation(document=inv, amount=Decimal("10.00")) for inv in invoices],
            date=APPLY_DATE,
            by=poster,
            key=key,
        )

    def naive_loop(invoices, memo, key):
        """What a per-row ORM loop does: each invoice locked, applied, both saved, audited."""
        with transaction.atomic():
            batch = ApplicationBatch.objects.create(key=key, created_by=poster)
            for inv in invoices:
                inv = Document.objects.select_for_update().get(pk=inv.pk)
                credit = Document.objects.select_for_update().get(pk=memo.pk)
                Application.objects.create(
                    customer_id=credit.customer_id,
                    target=inv,
                    source=credit,
                    amount=Decimal("10.00"),
                    date=APPLY_DATE,
                    batch=batch,
                    created_by=poster,
                )
                inv.balance_due -= Decimal("10.00")
                credit.balance_due += Decimal("10.00")
                inv.save()
                credit.save()
                AuditEvent.objects.create(
                    actor=poster,
                    action=AuditAction.CREDIT_APPLIED,
                    target_ref=credit.number,
                    amount=Decimal("10.00"),
                )

    def one_statement(invoices, memo, key):
        """The floor: one SQL statement inserting every application and moving both sides."""
        ids = [inv.pk for inv in invoices]
        amount = Decimal("10.00")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "WITH b AS (INSERT INTO invoicing_applicationbatch (key, created_by_id, created_at) "
                "VALUES (%s, %s, now()) RETURNING id), "
                "v AS (SELECT unnest(%s::bigint[]) AS id), "
                "ins AS (INSERT INTO invoicing_application (created_by_id, created_at, amount, "
                "date, customer_id, target_id, source_id, origin, batch_id) "
                "SELECT %s, now(), %s, %s, %s, v.id, %s, 'manual', b.id FROM v, b), "
                "inv AS (UPDATE invoicing_document d SET balance_due = d.balance_due - %s "
                "FROM v WHERE d.id = v.id) "
                "UPDATE invoicing_document SET balance_due = balance_due + %s WHERE id = %s",
                [key, poster.pk, ids, poster.pk, amount, APPLY_DATE, memo.customer_id, memo.pk,
                 amount, amount * len(ids), memo.pk],
            )  # fmt: skip

    ways = {"app POST": app_post, "service alone": service_only, "naive ORM loop": naive_loop}
    if connection.vendor == "postgresql":
        ways["one SQL statement"] = one_statement
    t0 = time.perf_counter()
    sets = {(name, r): seed(f"B{r}{i}") for r in range(ROUNDS) for i, name in enumerate(ways)}
    warm = seed("WARM")
    seeded = time.perf_counter() - t0
    app_post(warm[0][:1], warm[1], "warm-up")  # content types, templates, first connection

    if os.environ.get("BENCH_SHOW_SQL"):
        shown = []

        def record(execute, sql, params, many, context):
            shown.append(" ".join(sql.split())[:110])
            return execute(sql, params, many, context)

        invoices, memo = seed("SHOW")
        with connection.execute_wrapper(record):
            app_post(invoices, memo, "show-sql")
        print(f"the app POST's {len(shown)} statements:")
        for sql in shown:
            print(f"  {sql}")

    results = {name: [] for name in ways}
    for r in range(ROUNDS):
        for name, fn in ways.items():
            invoices, memo = sets[(name, r)]
            results[name].append(timed(fn, invoices, memo, f"{name[:3]}-{r}"))
            memo.refresh_from_db()
            assert memo.balance_due == 0, (name, memo.balance_due)

    def median(name):
        return statistics.median(t for t, _ in results[name]), results[name][0][1]

    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    print(f"seeded {len(sets) + 1} × ({N} posted invoices + 1 credit memo) in {seeded:.1f} s")
    print(f"apply one credit to {N} invoices, median of {ROUNDS}:")
    for name in ways:
        t, q = median(name)
        print(f"  {name:<18} {t * 1000:8.1f} ms  {q:5d} queries")
    post, naive = median("app POST")[0], median("naive ORM loop")[0]
    print(f"ratio app POST / naive ORM loop: {post / naive:.3f}× (goal ≤ 0.1×)")
    print(f"ratio service alone / naive ORM loop: {median('service alone')[0] / naive:.3f}×")
    if "one SQL statement" in ways:
        sql = median("one SQL statement")[0]
        print(f"ratio app POST / one SQL statement: {post / sql:.1f}×")
        print(f"ratio service alone / one SQL statement: {median('service alone')[0] / sql:.1f}×")
    print(f"service queries: {median('service alone')[1]} (goal ≤ 6)")


if __name__ == "__main__":
    main()
