"""Reports → Trial Balance and an account's ledger: read-only, for Posters and
Accountants (Action.VIEW_LEDGER), each with CSV/XLSX exports."""

from urllib.parse import urlencode

from django import forms
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from config.exports import SafeTableExport, rows_download
from config.roles import Action, require
from ledger.models import Account
from ledger.reports import account_ledger, trial_balance

PER_PAGE = 100


class AsOfForm(forms.Form):
    as_of = forms.DateField(label="As of", widget=forms.DateInput(attrs={"type": "date"}))


class PeriodForm(forms.Form):
    date_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end of the period is before its start.")
        return data


def _bound(form_class, request, defaults: dict):
    """A form bound to the query string, blank fields filled with `defaults`."""
    data = request.GET.copy()
    for name, value in defaults.items():
        if not data.get(name):
            data[name] = value.isoformat()
    return form_class(data)


def _query(request, **changes) -> str:
    query = request.GET.copy()
    for name in ("page", "export"):
        query.pop(name, None)
    for name, value in changes.items():
        if value is not None:
            query[name] = value
    return "?" + urlencode(sorted(query.items()))


def _exports(request) -> list[tuple[str, str]]:
    return [
        (f"Export {fmt.upper()}", _query(request, export=fmt)) for fmt in SafeTableExport.ALLOWED
    ]


def _export(request, columns, rows, name: str):
    export_format = request.GET.get("export")
    if not SafeTableExport.is_valid_format(export_format):
        return None
    return rows_download(export_format, columns, rows, name=name, title=name)


TRIAL_BALANCE_COLUMNS = [
    ("code", "Account"),
    ("name", "Name"),
    ("debit", "Debit"),
    ("credit", "Credit"),
]
LEDGER_COLUMNS = [
    ("date", "Date"),
    ("entry", "Entry"),
    ("source", "Document"),
    ("memo", "Memo"),
    ("customer", "Customer"),
    ("debit", "Debit"),
    ("credit", "Credit"),
    ("balance", "Balance"),
]


@require_GET
def trial_balance_view(request):
    require(request.user, Action.VIEW_LEDGER)
    form = _bound(AsOfForm, request, {"as_of": timezone.localdate()})
    context = {"form": form, "nav_section": "ledger"}
    if form.is_valid():
        as_of = form.cleaned_data["as_of"]
        report = trial_balance(as_of)
        rows = [
            {"code": r.account.code, "name": r.account.name, "debit": r.debit, "credit": r.credit}
            for r in report.rows
        ]
        rows.append({"code": "", "name": "Total", "debit": report.debits, "credit": report.credits})
        exported = _export(request, TRIAL_BALANCE_COLUMNS, rows, f"trial-balance-{as_of:%Y%m%d}")
        if exported is not None:
            return exported
        for row in report.rows:
            row.link = "?" + urlencode(
                {
                    "date_from": as_of.replace(month=1, day=1).isoformat(),
                    "date_to": as_of.isoformat(),
                }
            )
        context |= {"report": report, "as_of": as_of, "export_links": _exports(request)}
    return TemplateResponse(request, "ledger/trial_balance.html", context)


@require_GET
def account_ledger_view(request, pk):
    require(request.user, Action.VIEW_LEDGER)
    account = Account.objects.filter(pk=pk).first()
    if account is None:
        raise Http404("No such account.")
    today = timezone.localdate()
    form = _bound(
        PeriodForm, request, {"date_from": today.replace(month=1, day=1), "date_to": today}
    )
    context = {"form": form, "account": account, "nav_section": "ledger"}
    if form.is_valid():
        date_from, date_to = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
        export_format = request.GET.get("export")
        try:
            number = max(1, int(request.GET.get("page", "1")))
        except ValueError:
            number = 1
        exporting = SafeTableExport.is_valid_format(export_format)
        opening, lines, count, closing = account_ledger(
            account,
            date_from=date_from,
            date_to=date_to,
            offset=0 if exporting else (number - 1) * PER_PAGE,
            limit=10**9 if exporting else PER_PAGE,
        )
        if exporting:
            rows = [
                {
                    "date": ln.line.entry.date,
                    "entry": ln.line.entry.number,
                    "source": ln.line.entry.source_ref,
                    "memo": ln.line.memo or ln.line.entry.memo,
                    "customer": ln.line.customer.code if ln.line.customer else "",
                    "debit": ln.line.debit,
                    "credit": ln.line.credit,
                    "balance": ln.balance,
                }
                for ln in lines
            ]
            name = f"ledger-{account.code}-{date_from:%Y%m%d}-{date_to:%Y%m%d}"
            return _export(request, LEDGER_COLUMNS, rows, name)
        context |= {
            "opening": opening,
            "closing": closing,
            "lines": lines,
            "count": count,
            "date_from": date_from,
            "date_to": date_to,
            "previous": _query(request, page=str(number - 1)) if number > 1 else None,
            "next": _query(request, page=str(number + 1)) if number * PER_PAGE < count else None,
            "export_links": _exports(request),
        }
    return TemplateResponse(request, "ledger/account_ledger.html", context)
