"""Printed documents: time our PDF render against WeasyPrint's defaults, and a stored PDF's
download against a render.

Renders a posted 10-line credit memo and a posted 300-line invoice N times each (median):
- ours:     invoicing.printing.render_pdf (parsed stylesheet + one FontConfiguration reused)
- default:  HTML(string=html, base_url=…).write_pdf(stylesheets=[CSS(filename=…)]) on the
            same HTML, everything parsed and built afresh each time
- stored:   default_storage.open(name).read() of the PDF saved once
- view:     GET of the document's PDF URL through Django's test Client (the frozen PDF, as
            a customer's download gets it: login, middleware, lookup, hash check)
Goals: ours ≤ 0.7 × default; stored ≤ 0.05 × ours; view ≤ 0.05 × ours.

.venv/bin/python bench/pdf.py [--runs 7] [--out DIR]   # --out keeps the PDFs
"""

import argparse
import ctypes.util
import datetime
import os
import platform
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import machine, setup  # noqa: E402

OURS_GOAL = 0.7
STORED_GOAL = 0.05

SENTENCE = (
    "Replacement filter cartridge for the north wing air handler, installed on site and "
    "tested; includes disposal of the old unit and a service report"
)
WORDS = SENTENCE.split(" ")


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def harfbuzz_subset() -> str:
    found = ctypes.util.find_library("harfbuzz-subset")
    try:
        from weasyprint.text.ffi import harfbuzz_subset as hb_subset
    except ImportError:  # pragma: no cover
        hb_subset = None
    used = "used by WeasyPrint" if hb_subset else "not loaded by WeasyPrint (fontTools subsets)"
    return f"{found or 'not found'}, {used}"


def seed():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from customers.models import Customer
    from invoicing import services
    from invoicing.models import CreditReason, DocumentKind, Item, TaxProfile

    User = get_user_model()
    rep = User.objects.create(username="bench-rep")
    rep.groups.add(Group.objects.get(name="A/R rep"))
    poster = User.objects.create(username="bench-poster")
    poster.groups.add(Group.objects.get(name="Poster"))
    rep, poster = User.objects.get(pk=rep.pk), User.objects.get(pk=poster.pk)
    customer = Customer.objects.create(
        code="BENCH",
        name="Bench Hardware & Supply, Inc.",
        billing_contact="Accounts Payable",
        address_line1="1200 Industrial Parkway",
        address_line2="Suite 400",
        city="Dayton",
        state="OH",
        postal_code="45402",
    )
    items = list(Item.objects.filter(is_active=True).order_by("code")[:4])
    taxes = [TaxProfile.objects.get(code="OUT")]
    date = datetime.date(2026, 11, 2)

    def lines(n, *, price="12.50"):
        out = []
        for i in range(n):
            words = WORDS[: 4 + (i * 7) % len(WORDS)]
            out.append(
                services.LineInput(
                    item=items[i % len(items)],
                    quantity=Decimal(1 + i % 5),
                    unit_price=Decimal(price) + i,
                    unit_adjustment=Decimal("0"),
                    tax_profile=taxes[0],
                    description=f"Line {i + 1}: " + " ".join(words),
                )
            )
        return out

    invoice = services.document_create(customer=customer, date=date, lines=lines(300), by=rep)
    invoice = services.document_post(document=invoice, by=poster)
    memo = services.document_create(
        kind=DocumentKind.CREDIT_MEMO,
        customer=customer,
        date=date,
        lines=lines(10),
        reason=CreditReason.RETURN,
        by=rep,
    )
    memo = services.document_post(document=memo, by=poster)
    return memo, invoice


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="write the PDFs here")
    args = parser.parse_args()
    runs = max(args.runs, 5)

    setup()
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse
    from weasyprint import CSS, HTML
    from weasyprint import __version__ as weasyprint_version

    from invoicing import printing

    memo, invoice = seed()
    setup_test_environment()  # the test Client's "testserver" host
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-rep"))
    css_path = str(printing._renderer.stylesheet_path())
    base_url = printing.base_url()

    print(f"Machine: {platform.platform()}; {machine()}; os.cpu_count()={os.cpu_count()}")
    print(f"WeasyPrint {weasyprint_version}; libharfbuzz-subset: {harfbuzz_subset()}")
    print(f"Median of {runs} runs each.\n")
    header = (
        f"{'document':<22}{'ours':>10}{'default':>10}{'stored':>10}{'view':>10}"
        f"{'ours/def':>10}{'stored/ours':>13}{'view/ours':>11}"
    )
    print(header)
    print("-" * len(header))

    verdicts = []
    for label, doc in (("credit memo, 10 lines", memo), ("invoice, 300 lines", invoice)):
        html = printing.render_html(doc, for_pdf=True)
        pdf = printing.render_pdf(doc)  # warm-up: builds the cached stylesheet and fonts
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{doc.number}.pdf").write_bytes(pdf)
        name = default_storage.save(f"bench/{doc.number}.pdf", ContentFile(pdf))

        def default(html=html):
            return HTML(string=html, base_url=base_url).write_pdf(
                stylesheets=[CSS(filename=css_path)]
            )

        def stored(name=name):
            with default_storage.open(name) as f:
                return f.read()

        url = reverse("invoicing:pdf", args=[doc.pk])
        first = client.get(url)  # freezes it
        assert first.status_code == 200 and first.content == client.get(url).content

        def view(url=url):
            response = client.get(url)
            assert response.status_code == 200
            return response.content

        default()  # warm imports equally
        ours_t = median_time(lambda doc=doc: printing.render_pdf(doc), runs)
        default_t = median_time(default, runs)
        stored_t = median_time(stored, max(runs, 50))
        view_t = median_time(view, max(runs, 50))
        r1, r2, r3 = ours_t / default_t, stored_t / ours_t, view_t / ours_t
        verdicts += [r1 <= OURS_GOAL, r2 <= STORED_GOAL, r3 <= STORED_GOAL]
        print(
            f"{label:<22}{ours_t * 1000:>8.1f}ms{default_t * 1000:>8.1f}ms"
            f"{stored_t * 1000:>8.3f}ms{view_t * 1000:>8.2f}ms{r1:>10.2f}{r2:>13.4f}{r3:>11.4f}"
        )
        print(
            f"{'':<22}ours/default {r1:.2f} ({'PASS' if r1 <= OURS_GOAL else 'FAIL'} ≤ {OURS_GOAL}), "
            f"stored/ours {r2:.4f} ({'PASS' if r2 <= STORED_GOAL else 'FAIL'} ≤ {STORED_GOAL}), "
            f"view/ours {r3:.4f} ({'PASS' if r3 <= STORED_GOAL else 'FAIL'} ≤ {STORED_GOAL}); "
            f"{len(pdf):,} bytes"
        )
    print("\nOverall:", "PASS" if all(verdicts) else "FAIL")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
