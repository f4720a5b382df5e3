"""Reports → A/R Aging: as of any date, a page of customers by bucket with the totals and
the tie-out with the A/R control account, a customer's documents (drill-down), CSV/XLSX."""

from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from config.exports import SafeTableExport, rows_download
from customers.models import Customer
from invoicing.models import DocumentKind
from invoicing.selectors import aging, dashboard
from ledger.checks import run_fast
from ledger.models import SystemRole
from ledger.money import ZERO
from ledger.selectors import account_balance

PER_PAGE = 50
DETAIL_PER_PAGE = 100
MAX_BUCKETS = 8


class AgingForm(forms.Form):
    """The report's questions, from the query string; every field has a default."""

    as_of = forms.DateField(
        label="As of",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Blank: today",
    )
    buckets = forms.CharField(
        label="Buckets (days)",
        required=False,
        max_length=60,
        help_text="Upper edges, e.g. 30, 60, 90",
    )
    customer = forms.CharField(
        label="Customer", required=False, max_length=100, help_text="Code or part of the name"
    )
    over_days = forms.IntegerField(
        label="Over N days", required=False, min_value=0, max_value=aging.MAX_EDGE
    )
    credits_only = forms.BooleanField(label="Customers with credits only", required=False)

    def clean_as_of(self):
        return self.cleaned_data.get("as_of") or timezone.localdate()

    def clean_buckets(self):
        text = (self.cleaned_data.get("buckets") or "").strip()
        if not text:
            return aging.Buckets()
        try:
            edges = tuple(int(part) for part in text.replace(";", ",").split(",") if part.strip())
        except ValueError:
            raise forms.ValidationError("Enter whole numbers of days, e.g. 30, 60, 90.") from None
        if not edges or len(edges) > MAX_BUCKETS:
            raise forms.ValidationError(f"Enter between 1 and {MAX_BUCKETS} edges.")
        if any(edge <= 0 or edge > aging.MAX_EDGE for edge in edges):
            raise forms.ValidationError(f"Each edge is between 1 and {aging.MAX_EDGE} days.")
        if list(edges) != sorted(set(edges)):
            raise forms.ValidationError("Give the edges in increasing order, each once.")
        return aging.Buckets(edges)


def _query(params: dict, **changes) -> str:
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "", False)}
    return "?" + urlencode(merged)


def _page_number(request) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


def _bar(buckets: list[Decimal], labels: list[str]) -> list[dict]:
    """A row's stacked bar: what is owed in each bucket as a share of the row's owed total
    (credits are listed in words, not drawn)."""
    owed = [max(amount, ZERO) for amount in buckets]
    whole = sum(owed, ZERO)
    if whole <= 0:
        return []
    segments, x = [], Decimal(0)
    for i, amount in enumerate(owed):
        if amount > 0:
            width = (amount / whole * 100).quantize(Decimal("0.01"))
            segments.append(
                {"bucket": i, "label": labels[i], "x": x, "width": width, "amount": amount}
            )
            x += width
    return segments


DETAIL_COLUMNS = [
    ("customer", "Customer code"),
    ("number", "Number"),
    ("kind", "Kind"),
    ("date", "Date"),
    ("due_date", "Due date"),
    ("days_overdue", "Days overdue"),
    ("bucket", "Bucket"),
    ("open_amount", "Open amount"),
]


def _export(request, export_format, form_data, buckets, as_of, customer):
    stamp = as_of.strftime("%Y%m%d")
    if customer is not None:
        items = aging.aging_items(as_of, buckets=buckets, customer_ids=[customer.pk], limit=None)
        rows = [
            {
                "customer": customer.code,
                "number": item.number,
                "kind": DocumentKind(item.kind).label,
                "date": item.date,
                "due_date": item.due_date,
                "days_overdue": item.days_overdue,
                "bucket": buckets.labels[item.bucket],
                "open_amount": item.open_amount,
            }
            for item in items
        ]
        columns, name = DETAIL_COLUMNS, f"aging-{customer.code}-{stamp}"
    else:
        page = aging.aging_summary(as_of, buckets=buckets, limit=None, **form_data)
        columns = [
            ("code", "Customer code"),
            ("name", "Customer"),
            *((f"b{i}", label) for i, label in enumerate(page.labels)),
            ("total", "Total"),
        ]
        rows = [
            {"code": r.code, "name": r.name, "total": r.total}
            | {f"b{i}": amount for i, amount in enumerate(r.buckets)}
            for r in page.rows
        ]
        rows.append(
            {"code": "", "name": "Total", "total": page.total}
            | {f"b{i}": amount for i, amount in enumerate(page.totals)}
        )
        name = f"aging-{stamp}"
    return rows_download(export_format, columns, rows, name=name, title="Aging")


@require_GET
def aging_view(request):
    query = request.GET.copy()
    if not query.get("as_of"):
        query["as_of"] = timezone.localdate().isoformat()  # the date field shows it
    form = AgingForm(query)
    valid = form.is_valid()
    data = form.cleaned_data if valid else {}
    as_of = data.get("as_of") or timezone.localdate()
    buckets = data.get("buckets") or aging.Buckets()
    params = {k: v for k, v in request.GET.items() if k in form.fields}
    filters = {
        "customer_search": data.get("customer", ""),
        "credits_only": bool(data.get("credits_only")),
        "over_days": data.get("over_days"),
    }
    customer = None
    if request.GET.get("customer_id", "").isdigit():
        customer = Customer.objects.filter(pk=int(request.GET["customer_id"])).first()
        if customer is not None:
            params["customer_id"] = customer.pk
    export_format = request.GET.get("export")
    if valid and SafeTableExport.is_valid_format(export_format):
        return _export(request, export_format, filters, buckets, as_of, customer)

    context = {
        "form": form,
        "as_of": as_of,
        "buckets": buckets,
        "labels": buckets.labels,
        "customer": customer,
        "params": params,
        "nav_section": "reports",
    }
    if not valid:
        return TemplateResponse(request, "invoicing/reports/aging.html", context)
    control = account_balance(SystemRole.RECEIVABLE, as_of=as_of)
    number = _page_number(request)
    if customer is not None:
        every = aging.aging_items(as_of, buckets=buckets, customer_ids=[customer.pk], limit=None)
        start = (number - 1) * DETAIL_PER_PAGE
        items = every[start : start + DETAIL_PER_PAGE]
        has_next = len(every) > start + DETAIL_PER_PAGE
        for item in items:
            item.label = buckets.labels[item.bucket]
            item.kind_label = DocumentKind(item.kind).label
        context |= {
            "items": items,
            "open_count": len(every),
            "open_total": sum((item.open_amount for item in every), ZERO),
        }
        whole_total = aging.aging_totals(as_of, buckets=buckets).total
    else:
        page = aging.aging_summary(
            as_of, buckets=buckets, offset=(number - 1) * PER_PAGE, limit=PER_PAGE, **filters
        )
        for row in page.rows:
            row.bar = _bar(row.buckets, buckets.labels)
            row.link = _query(
                {"as_of": as_of.isoformat(), "buckets": params.get("buckets", "")},
                customer_id=row.customer_id,
            )
        has_next = number * PER_PAGE < page.customers
        filtered = any(filters.values())
        context |= {"page": page, "filtered": filtered}
        whole_total = aging.aging_totals(as_of, buckets=buckets).total if filtered else page.total
    context["whole_total"] = whole_total
    context["control"] = control
    context["difference"] = whole_total - control
    context["page_links"] = {
        "previous": _query(params, page=number - 1) if number > 1 else None,
        "next": _query(params, page=number + 1) if has_next else None,
    }
    context["export_links"] = [
        (f"Export {fmt.upper()}", _query(params, export=fmt)) for fmt in SafeTableExport.ALLOWED
    ]
    return TemplateResponse(request, "invoicing/reports/aging.html", context)


# --- home: the dashboard ---------------------------------------------------------------------

CHART_W, CHART_H, CHART_TOP = 600, 180, 10


def _trend_chart(points) -> dict:
    """Bars of the trend (current below, overdue on top), in SVG units computed here so
    the template only places them. Negative parts (credits exceeding) draw as zero."""
    peak = max([max(p.current, ZERO) + max(p.overdue, ZERO) for p in points] + [Decimal(1)])
    slot = Decimal(CHART_W) / len(points)
    bars = []
    for i, point in enumerate(points):
        current = max(point.current, ZERO) / peak * CHART_H
        overdue = max(point.overdue, ZERO) / peak * CHART_H
        x = slot * i + slot / 5
        bars.append(
            {
                "point": point,
                "x": round(x, 1),
                "width": round(slot * 3 / 5, 1),
                "current_y": round(CHART_TOP + CHART_H - current, 1),
                "current_h": round(current, 1),
                "overdue_y": round(CHART_TOP + CHART_H - current - overdue, 1),
                "overdue_h": round(overdue, 1),
                "label_x": round(x + slot * 3 / 10, 1),
            }
        )
    return {
        "bars": bars,
        "width": CHART_W,
        "height": CHART_TOP + CHART_H + 24,
        "base_y": CHART_TOP + CHART_H,
        "label_y": CHART_TOP + CHART_H + 16,
        "peak": peak,
    }


@require_GET
def dashboard_view(request):
    today = timezone.localdate()
    points = dashboard.trend(today)
    context = {
        "today": today,
        "figures": dashboard.figures(today),
        "tie_outs": run_fast(),
        "chart": _trend_chart(points),
        "nav_section": "home",
    }
    return TemplateResponse(request, "invoicing/reports/dashboard.html", context)
