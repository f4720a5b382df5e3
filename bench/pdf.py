"""Printed documents: time our PDF render against WeasyPrint's defaults, and a stored PDF's
download against a render.

Renders a posted 10-line credit memo and a posted 300-line invoice N times each (median;
ours and both defaults take turns run by run, so a busy machine slows all three alike):
- ours:        invoicing.printing.render_pdf (parsed stylesheet + one FontConfiguration
               reused; fonts subset by whatever WeasyPrint finds — HarfBuzz here when
               Debian's libharfbuzz-subset0 is installed)
- default (a): HTML(string=html, base_url=…).write_pdf(stylesheets=[CSS(filename=…)]) on the
               same HTML, HTML + CSS parsed and a new FontConfiguration built each time,
               fonts subset as this machine has it (HarfBuzz when the library is present)
- default (b): the same, "default, fontTools subsetting": HarfBuzz subsetting switched off
               for those runs only (`weasyprint.pdf.fonts.harfbuzz_subset = None`, restored
               after), so fonts.py takes its `_fonttools_subset` branch — what WeasyPrint does
               when installed from pip alone, without libharfbuzz-subset. The script checks
               that branch really ran (and HarfBuzz's did not) and that the PDF is valid
               (pypdf reads it: same pages and text as ours).
- stored:      default_storage.open(name).read() of the PDF saved once
- view:        GET of the document's PDF URL through Django's test Client (the frozen PDF,
               as a customer's download gets it: login, middleware, lookup, hash check)

Goals: ours ≤ 0.7 × default; stored ≤ 0.05 × ours; view ≤ 0.05 × ours.

Which default the issue means: its goal reads "our render ≤ 0.7× WeasyPrint's default
(reuse parsed stylesheets and the font configuration between renders, subset fonts with
HarfBuzz)" — HarfBuzz subsetting is listed as one of OUR measures, so its baseline is a
default render that does NOT subset with HarfBuzz: (b), fontTools subsetting. The verdict
and exit status follow (b). (a) is printed as well, with its own PASS/FAIL: it is the
stricter comparison on this machine, where a plain WeasyPrint also gets HarfBuzz for free.

.venv/bin/python bench/pdf.py [--runs 7] [--out DIR]   # --out keeps the PDFs
"""

import argparse
import contextlib
import ctypes.util
import datetime
import io
import logging
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


def median_times_interleaved(fns, runs: int) -> list[float]:
    """Median time of each of `fns`, run in turn (a, b, c, a, b, c, …) so that load from
    anything else on the machine lands on all of them alike."""
    times = [[] for _ in fns]
    for _ in range(runs):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def harfbuzz_subset() -> str:
    found = ctypes.util.find_library("harfbuzz-subset")
    try:
        from weasyprint.text.ffi import harfbuzz_subset as hb_subset
    except ImportError:  # pragma: no cover
        hb_subset = None
    used = "used by WeasyPrint" if hb_subset else "not loaded by WeasyPrint (fontTools subsets)"
    return f"{found or 'not found'}, {used}"


class _FontToolsWarning(logging.Filter):
    """Counts (and keeps off the console) the warning fonts.py logs each time it subsets a
    font with fontTools instead of HarfBuzz."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def filter(self, record):
        if "Using fontTools instead of HarfBuzz-Subset" in record.getMessage():
            self.count += 1
            return False
        return True


@contextlib.contextmanager
def fonttools_subsetting():
    """WeasyPrint as installed from pip alone: no HarfBuzz subsetting, fontTools instead.

    weasyprint/pdf/fonts.py imports `harfbuzz_subset` from weasyprint.text.ffi into its
    own namespace and `Font.subset` reads that module global
    (`if harfbuzz_subset and …: self._harfbuzz_subset(…) else: self._fonttools_subset(…)`),
    so setting it to None there switches the branch; it is restored on the way out."""
    from weasyprint.logger import LOGGER
    from weasyprint.pdf import fonts

    saved = fonts.harfbuzz_subset
    quiet = _FontToolsWarning()
    LOGGER.addFilter(quiet)
    fonts.harfbuzz_subset = None
    try:
        yield quiet
    finally:
        fonts.harfbuzz_subset = saved
        LOGGER.removeFilter(quiet)


@contextlib.contextmanager
def count_subsetting():
    """{"harfbuzz": n, "fonttools": n}: which of fonts.py's two subsetters ran, and how often."""
    from weasyprint.pdf import fonts

    calls = {"harfbuzz": 0, "fonttools": 0}
    originals = fonts.Font._harfbuzz_subset, fonts.Font._fonttools_subset

    def wrap(name, method):
        def counted(self, *args, **kwargs):
            calls[name] += 1
            return method(self, *args, **kwargs)

        return counted

    fonts.Font._harfbuzz_subset = wrap("harfbuzz", originals[0])
    fonts.Font._fonttools_subset = wrap("fonttools", originals[1])
    try:
        yield calls
    finally:
        fonts.Font._harfbuzz_subset, fonts.Font._fonttools_subset = originals


def pdf_summary(pdf: bytes) -> tuple[int, str, set[str]]:
    """(pages, text, embedded font names) — reading it with pypdf also checks it is valid."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf), strict=True)
    text = "\n".join(page.extract_text() for page in reader.pages)
    fonts = set()
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            fonts.add(str(font.get("/BaseFont")))
    return len(reader.pages), text, fonts


def check_baselines(default, ours_pdf: bytes) -> str:
    """Renders once each way (untimed) and checks what the two baselines claim to be."""
    from weasyprint.pdf import fonts

    with count_subsetting() as calls:
        pdf_a = default()
    assert calls["harfbuzz"] > 0 and calls["fonttools"] == 0, (
        f"baseline (a) should subset with HarfBuzz on this machine: {calls}"
    )
    with fonttools_subsetting() as quiet, count_subsetting() as calls_b:
        assert fonts.harfbuzz_subset is None
        pdf_b = default()
    assert fonts.harfbuzz_subset is not None, "HarfBuzz subsetting not restored"
    assert calls_b["fonttools"] > 0 and calls_b["harfbuzz"] == 0, (
        f"baseline (b) should subset with fontTools: {calls_b}"
    )
    assert quiet.count == calls_b["fonttools"]
    ours = pdf_summary(ours_pdf)
    for name, pdf in (("(a)", pdf_a), ("(b)", pdf_b)):
        pages, text, font_names = pdf_summary(pdf)
        assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF"), name
        assert (pages, text) == ours[:2], f"default {name} differs from ours in pages or text"
        assert font_names == ours[2], f"default {name} embeds other fonts: {font_names}"
    return (
        f"subsetting checked: (a) HarfBuzz ×{calls['harfbuzz']}, (b) fontTools "
        f"×{calls_b['fonttools']}; both PDFs valid, {ours[0]} page(s), text as ours; "
        f"{len(pdf_a):,} / {len(pdf_b):,} bytes"
    )


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


def verdict(ratio: float, goal: float) -> str:
    return f"{'PASS' if ratio <= goal else 'FAIL'} ≤ {goal}"


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
    print(
        f"Median of {runs} runs each (ours, default (a), default (b) in turn).\n"
        "  default (a) = fresh HTML + CSS parse and FontConfiguration per render, HarfBuzz\n"
        "                subsetting as this machine has it\n"
        "  default (b) = the same with fontTools subsetting (WeasyPrint from pip alone, no\n"
        "                libharfbuzz-subset) — the baseline the issue's goal means, since it\n"
        '                lists "subset fonts with HarfBuzz" among OUR measures\n'
    )
    header = (
        f"{'document':<22}{'ours':>10}{'def (a)':>10}{'def (b)':>10}{'stored':>10}{'view':>10}"
        f"{'ours/(a)':>10}{'ours/(b)':>10}{'stored/ours':>13}{'view/ours':>11}"
    )
    print(header)
    print("-" * len(header))

    issue_ok, strict_ok, download_ok = [], [], []
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

        def default_fonttools(default=default):
            with fonttools_subsetting():
                return default()

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

        check = check_baselines(default, pdf)  # also warms imports for both defaults
        ours_t, a_t, b_t = median_times_interleaved(
            [lambda doc=doc: printing.render_pdf(doc), default, default_fonttools], runs
        )
        stored_t = median_time(stored, max(runs, 50))
        view_t = median_time(view, max(runs, 50))
        ra, rb = ours_t / a_t, ours_t / b_t
        r2, r3 = stored_t / ours_t, view_t / ours_t
        issue_ok.append(rb <= OURS_GOAL)
        strict_ok.append(ra <= OURS_GOAL)
        download_ok += [r2 <= STORED_GOAL, r3 <= STORED_GOAL]
        print(
            f"{label:<22}{ours_t * 1000:>8.1f}ms{a_t * 1000:>8.1f}ms{b_t * 1000:>8.1f}ms"
            f"{stored_t * 1000:>8.3f}ms{view_t * 1000:>8.2f}ms"
            f"{ra:>10.2f}{rb:>10.2f}{r2:>13.4f}{r3:>11.4f}"
        )
        print(
            f"{'':<22}ours/(b) fontTools default {rb:.2f} ({verdict(rb, OURS_GOAL)}; the issue's goal), "
            f"ours/(a) HarfBuzz default {ra:.2f} ({verdict(ra, OURS_GOAL)})"
        )
        print(
            f"{'':<22}stored/ours {r2:.4f} ({verdict(r2, STORED_GOAL)}), "
            f"view/ours {r3:.4f} ({verdict(r3, STORED_GOAL)}); {len(pdf):,} bytes"
        )
        print(f"{'':<22}{check}")

    def word(ok):
        return "PASS" if all(ok) else "FAIL"

    print()
    print(
        f"ours ≤ {OURS_GOAL} × default (b), fontTools subsetting — the issue's goal: {word(issue_ok)}"
    )
    print(
        f"ours ≤ {OURS_GOAL} × default (a), HarfBuzz subsetting — stricter, shown too: {word(strict_ok)}"
    )
    print(f"stored and view ≤ {STORED_GOAL} × ours: {word(download_ok)}")
    overall = all(issue_ok) and all(download_ok)
    print("Overall (issue's goals, baseline (b)):", "PASS" if overall else "FAIL")
    return 0 if overall else 1


if __name__ == "__main__":
    sys.exit(main())
