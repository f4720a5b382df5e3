"""Posting throughput, from one run: posts/s through the service (document_post, one
transaction each), through "Post selected" (documents_post_batch, one transaction for the
batch), and through batched SQL writing the same entries (entries, lines, documents and
audit rows as four multi-row statements, legs computed beforehand: the floor). Printed
with the ratios; queries per post too.

.venv/bin/python bench/post.py          # SQLite in a temp dir (no batched SQL)
BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditdesk_bench .venv/bin/python bench/post.py
"""

import datetime
import json
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import QueryCounter, machine, setup, user_in  # noqa: E402

SINGLE = int(os.environ.get("BENCH_SINGLE", 200))  # drafts posted one by one, per round
BATCH = int(os.environ.get("BENCH_BATCH", 1000))  # drafts per "Post selected"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
DATE = datetime.date(2026, 11, 2)


def main():
    setup()
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction
    from django.utils import timezone

    from customers.models import Customer
    from invoicing import services
    from invoicing.models import Document, DocumentKind, DocumentLine, Item, TaxProfile
    from invoicing.services.documents import (
        _lines_for_posting,
        _posting_memo,
        posting_legs,
    )
    from invoicing.services.posting import documents_post_batch
    from ledger.models import AuditAction, JournalEntry

    poster = user_in("Poster", "bench-poster")
    customers = [Customer.objects.create(code=f"P{i:03d}", name=f"Bench {i}") for i in range(50)]
    prt, svc = Item.objects.get(code="PRT"), Item.objects.get(code="SVC")
    std, out = TaxProfile.objects.get(code="STD"), TaxProfile.objects.get(code="OUT")
    lines = [
        services.LineInput(item=prt, quantity=Decimal(2), unit_price=Decimal("250.00"), tax_profile=std),
        services.LineInput(item=svc, quantity=Decimal(1), unit_price=Decimal("125.00"), tax_profile=out),
    ]  # fmt: skip

    def drafts(n):
        """n draft invoices of two lines (one taxed), spread over the customers: the
        editor's service makes the first, the rest are copied in bulk (same rows)."""
        first = services.document_create(customer=customers[0], date=DATE, lines=lines, by=poster)
        template = list(first.lines.all())
        made = [first]
        fields = [f.attname for f in Document._meta.concrete_fields if not f.primary_key]
        seq_rows = [
            Document(
                **{
                    **{name: getattr(first, name) for name in fields},
                    "customer_id": customers[i % len(customers)].pk,
                    "number": f"{first.number}-{i}",
                }
            )
            for i in range(1, n)
        ]
        made += Document.objects.bulk_create(seq_rows)
        DocumentLine.objects.bulk_create(
            DocumentLine(**{**{f.attname: getattr(t, f.attname) for f in DocumentLine._meta.concrete_fields if f.name != "id"}, "document_id": d.pk})
            for d in made[1:]
            for t in template
        )  # fmt: skip
        return made

    def by_service(docs):
        for i, doc in enumerate(docs):
            services.document_post(document=doc, by=poster, key=f"s-{doc.pk}-{i}")

    def by_batch(docs):
        if os.environ.get("BENCH_PROFILE"):  # where a batch spends its time
            import cProfile
            import pstats

            profile = cProfile.Profile()
            profile.runcall(documents_post_batch, documents=docs, by=poster, key=f"b-{docs[0].pk}")
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            return
        documents_post_batch(documents=docs, by=poster, key=f"b-{docs[0].pk}")

    def by_sql_prepared(docs):
        """The same entries' rows, computed before the clock starts."""
        found = _lines_for_posting(docs)
        for d in docs:
            d.memo = _posting_memo(d)  # reads the customer's name
        return [(d, posting_legs(d, lines=found[d.pk])) for d in docs]

    def by_sql(prepared):
        now = timezone.now()
        doc_type = ContentType.objects.get_for_model(Document).pk
        entry_type = ContentType.objects.get_for_model(JournalEntry).pk
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO ledger_journalentry (date, memo, source_type_id, source_id, "
                "source_ref, posted_by_id, posted_at) SELECT u.date, u.memo, %s, u.id, u.ref, "
                "%s, %s FROM unnest(%s::date[], %s::text[], %s::bigint[], %s::text[]) "
                "WITH ORDINALITY AS u(date, memo, id, ref, n) ORDER BY n RETURNING id",
                [doc_type, poster.pk, now, [d.date for d, _ in prepared],
                 [d.memo for d, _ in prepared], [d.pk for d, _ in prepared],
                 [d.number for d, _ in prepared]],
            )  # fmt: skip
            entry_ids = [row[0] for row in cursor.fetchall()]
            rows = [
                (entry, leg.account.pk, leg.customer_id, leg.debit, leg.credit, leg.memo)
                for entry, (_, legs) in zip(entry_ids, prepared, strict=True)
                for leg in legs
            ]
            cursor.execute(
                "INSERT INTO ledger_journalline (entry_id, account_id, customer_id, debit, "
                "credit, memo) SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], "
                "%s::numeric[], %s::numeric[], %s::text[])",
                [list(col) for col in zip(*rows, strict=True)],
            )
            cursor.execute(
                "UPDATE invoicing_document d SET status = 'posted', posting_entry_id = v.entry, "
                "posted_by_id = %s, posted_at = %s, balance_due = d.grand_total, "
                "updated_by_id = %s, updated_at = %s FROM unnest(%s::bigint[], %s::bigint[]) "
                "AS v(id, entry) WHERE d.id = v.id",
                [poster.pk, now, poster.pk, now, [d.pk for d, _ in prepared], entry_ids],
            )
            audit = [
                (AuditAction.JOURNAL_ENTRY_POSTED.value, entry_type, e, "", d.grand_total)
                for e, (d, _) in zip(entry_ids, prepared, strict=True)
            ] + [
                (AuditAction.INVOICE_POSTED.value, doc_type, d.pk, d.number, d.grand_total)
                for d, _ in prepared
            ]
            cursor.execute(
                "INSERT INTO ledger_auditevent (at, actor_id, action, target_type_id, "
                "target_id, target_ref, amount, detail) SELECT %s, %s, u.a, u.t, u.i, u.r, "
                "u.m, %s::jsonb FROM unnest(%s::text[], %s::bigint[], %s::bigint[], "
                "%s::text[], %s::numeric[]) AS u(a, t, i, r, m)",
                [now, poster.pk, json.dumps({}), *[list(c) for c in zip(*audit, strict=True)]],
            )

    def timed(fn, arg):
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            t = time.perf_counter()
            fn(arg)
            elapsed = time.perf_counter() - t
        return elapsed, counter.count

    t0 = time.perf_counter()
    by_service(drafts(5))  # warm-up: content types, account cache, first connection
    sets = []
    for _ in range(ROUNDS):
        round_sets = {"service": drafts(SINGLE), "batch": drafts(BATCH)}
        if connection.vendor == "postgresql":
            round_sets["sql"] = drafts(BATCH)
        sets.append(round_sets)
    seeded = time.perf_counter() - t0

    rates = {"service": [], "batch": [], "sql": []}
    queries = {}
    for round_sets in sets:
        t, q = timed(by_service, round_sets["service"])
        rates["service"].append(SINGLE / t)
        queries["service"] = q / SINGLE
        t, q = timed(by_batch, round_sets["batch"])
        rates["batch"].append(BATCH / t)
        queries["batch"] = q
        if "sql" in round_sets:
            prepared = by_sql_prepared(round_sets["sql"])
            t, q = timed(by_sql, prepared)
            rates["sql"].append(BATCH / t)
            queries["sql"] = q

    def med(name):
        return statistics.median(rates[name])

    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    print(f"seeded {sum(len(v) for s in sets for v in s.values()):,} drafts in {seeded:.1f} s")
    print(f"posting 2-line invoices, median of {ROUNDS}:")
    print(
        f"  document_post, one by one:  {med('service'):8.0f} posts/s  {queries['service']:.0f} queries/post"
    )
    print(
        f"  Post selected ({BATCH:,}):     {med('batch'):8.0f} posts/s  {queries['batch']} queries/batch"
    )
    if rates["sql"]:
        print(
            f"  batched SQL ({BATCH:,}):       {med('sql'):8.0f} posts/s  {queries['sql']} queries/batch"
        )
        print(f"ratio service / batched SQL: {med('service') / med('sql'):.3f}×")
        print(f"ratio batch / batched SQL: {med('batch') / med('sql'):.2f}× (goal ≥ 0.5×)")
    print(f"ratio batch / service: {med('batch') / med('service'):.1f}×")
    assert not Document.objects.filter(status="draft", kind=DocumentKind.INVOICE).exists()


if __name__ == "__main__":
    main()
