"""A/R aging as of a date D (ledger/ACCOUNTING.md "Aging"): every open item at the end of
D, in buckets by age — invoices by due date, credits (credit memos, unapplied payments,
overpayments) by their own date, as negative amounts.

An item's open amount as of D is read from what is stored now and corrected by what
happened after D, so "as of today" scans exactly the open items and a past date adds only
the documents touched since:

    open as of D = open now (its stored balance; its total if voided after D)
                 + what applications made or removed after D changed since D.

An application counts on D when it is dated on or before D and was not removed by then
(`open_items._applied_q`). `open_items.computed_open_amounts(as_of=D)` computes the same
figures from totals and every application (check_ledger and the tests compare the two).

One SQL statement gives a page of the summary with its totals row and the number of
customers (window functions); one more gives a page of the detail.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from customers.models import Customer
from invoicing.models import Application, DepositApplication, Document, DocumentStatus
from ledger.aggregates import rounded
from ledger.money import ZERO

DEFAULT_EDGES = (30, 60, 90)
MAX_EDGE = 3650  # ten years: bucket edges beyond this are refused by the form


@dataclass(frozen=True)
class Buckets:
    """Upper edges in days overdue of the buckets after Current: (30, 60, 90) gives
    Current, 1–30, 31–60, 61–90, Over 90."""

    edges: tuple[int, ...] = DEFAULT_EDGES

    @property
    def labels(self) -> list[str]:
        labels, low = ["Current"], 1
        for edge in self.edges:
            labels.append(f"{low}–{edge}")
            low = edge + 1
        labels.append(f"Over {self.edges[-1]}" if self.edges else "Overdue")
        return labels

    def index(self, days_overdue: int) -> int:
        """The bucket of an item `days_overdue` days past its ageing date."""
        if days_overdue <= 0:
            return 0
        for i, edge in enumerate(self.edges, start=1):
            if days_overdue <= edge:
                return i
        return len(self.edges) + 1


@dataclass
class AgingRow:
    """One customer's open items as of the date, by bucket."""

    customer_id: int
    code: str
    name: str
    buckets: list[Decimal]
    total: Decimal

    @property
    def has_credit(self) -> bool:
        return self.total < 0


@dataclass
class AgingPage:
    rows: list[AgingRow]
    totals: list[Decimal]
    total: Decimal
    customers: int  # how many customers match (for the paginator)
    labels: list[str] = field(default_factory=list)


@dataclass
class AgingItem:
    """One open document as of the date."""

    document_id: int
    number: str
    kind: str
    customer_id: int
    date: datetime.date
    due_date: datetime.date
    open_amount: Decimal
    days_overdue: int
    bucket: int


def _date(value) -> datetime.date:
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)


def _changed_sql() -> str:
    """`changed AS (…)`: per document, what applications made or removed after
    %(as_of)s changed its open amount since then (to undo: now + changed = as of D)."""
    app, dep = Application._meta.db_table, DepositApplication._meta.db_table
    # On the side an application lowers (an invoice, or the invoice a deposit went to):
    # + its amount if it is in force now, − if it was on D; the other side the reverse.
    change = (
        "(CASE WHEN removed_at IS NULL THEN amount ELSE 0 END)"
        " - (CASE WHEN date <= %(as_of)s AND (removed_on IS NULL OR removed_on > %(as_of)s)"
        " THEN amount ELSE 0 END)"
    )
    since = "date > %(as_of)s OR removed_on > %(as_of)s"
    return f"""
        changed AS (
            SELECT doc_id, SUM(amount) AS amount FROM (
                SELECT target_id AS doc_id, {change} AS amount FROM {app} WHERE {since}
                UNION ALL
                SELECT source_id, -({change}) FROM {app} WHERE {since}
                UNION ALL
                SELECT invoice_id, {change} FROM {dep} WHERE {since}
            ) AS moves GROUP BY doc_id
        )"""  # noqa: S608 - table names are ours; values are parameters


# A document counts on D from its date until its void date; its open amount now is its
# stored balance while posted, its total once voided after D (a void leaves nothing open).
_COUNTS_ON_D = (
    "d.date <= %(as_of)s AND d.posting_entry_id IS NOT NULL"
    f" AND (d.status = '{DocumentStatus.POSTED}'"
    f" OR (d.status = '{DocumentStatus.VOID}' AND d.void_date > %(as_of)s))"
)
_OPEN_NOW = (
    f"CASE WHEN d.status = '{DocumentStatus.POSTED}' THEN d.balance_due ELSE d.grand_total END"
)
# What is owed to us ages from its due date; a credit from its own date.
_AGE_DATE = "CASE WHEN d.grand_total > 0 THEN d.due_date ELSE d.date END"


def _open_items_sql(customer_filter: str) -> str:
    """SQL of the open items as of %(as_of)s, one row per document: id, customer_id,
    date, due_date, number, kind, open amount, and the date it ages from."""
    doc = Document._meta.db_table
    return f"""
        WITH {_changed_sql()},
        items AS (
            SELECT d.id, d.customer_id, d.date, d.due_date, d.number, d.kind,
                   {_AGE_DATE} AS age_date, {_OPEN_NOW} + COALESCE(c.amount, 0) AS open_amount
            FROM {doc} AS d LEFT JOIN changed AS c ON c.doc_id = d.id
            WHERE {_COUNTS_ON_D}
              AND (d.balance_due <> 0 OR d.status <> '{DocumentStatus.POSTED}'
                   OR c.doc_id IS NOT NULL)
              {customer_filter}
        ),
        aged AS (SELECT * FROM items WHERE ROUND(open_amount, 2) <> 0)
    """  # noqa: S608 - table names are ours; values are parameters


def _moves_sql(customer_filter: str) -> str:
    """SQL of what makes up the open items as of %(as_of)s, for sums: each document open
    now (or voided after D) with its amount now, plus a row per document that
    applications changed since D — so the scan is the open items' own and the rows a
    past date adds are only those touched since. customer_id, age_date, amount, owed."""
    doc = Document._meta.db_table
    columns = f"d.customer_id, {_AGE_DATE} AS age_date"
    owed = "CASE WHEN d.grand_total > 0 THEN 1 ELSE 0 END AS owed"
    return f"""
        WITH {_changed_sql()},
        moves AS (
            SELECT {columns}, {_OPEN_NOW} AS amount, {owed}
            FROM {doc} AS d
            WHERE {_COUNTS_ON_D}
              AND (d.balance_due <> 0 OR d.status <> '{DocumentStatus.POSTED}')
              {customer_filter}
            UNION ALL
            SELECT {columns}, c.amount, {owed}
            FROM changed AS c JOIN {doc} AS d ON d.id = c.doc_id
            WHERE {_COUNTS_ON_D} {customer_filter}
        )
    """  # noqa: S608 - table names are ours; values are parameters


def _bucket_conditions(buckets: Buckets, params: dict, as_of: datetime.date) -> list[str]:
    """Per bucket (0 = Current), the condition on an item's ageing date, against dates
    computed here (so the SQL needs no date arithmetic, on SQLite as on PostgreSQL)."""
    bounds = ["%(as_of)s"]
    for i, edge in enumerate(buckets.edges):
        params[f"edge_{i}"] = as_of - datetime.timedelta(days=edge)
        bounds.append(f"%(edge_{i})s")
    conditions = [f"age_date >= {bounds[0]}"]
    conditions += [
        f"age_date < {hi} AND age_date >= {lo}" for hi, lo in zip(bounds, bounds[1:], strict=False)
    ]
    conditions.append(f"age_date < {bounds[-1]}")
    return conditions


def _like(text: str) -> str:
    """A LIKE pattern finding `text` anywhere, its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.upper()}%"


def _customer_filter(params: dict, customer_ids, search: str = "") -> str:
    """SQL narrowing the items to some customers: by id, and/or those whose code is
    `search` or whose name contains it (case-insensitive)."""
    sql = ""
    if customer_ids is not None:
        ids = sorted({int(pk) for pk in customer_ids})
        if not ids:
            return "AND 1 = 0"
        names = []
        for i, pk in enumerate(ids):
            params[f"c{i}"] = pk
            names.append(f"%(c{i})s")
        sql += f" AND d.customer_id IN ({', '.join(names)})"
    search = (search or "").strip()
    if search:
        params["q"], params["q_like"] = search.upper(), _like(search)
        sql += (
            f" AND d.customer_id IN (SELECT id FROM {Customer._meta.db_table}"  # noqa: S608
            " WHERE UPPER(code) = %(q)s OR UPPER(name) LIKE %(q_like)s ESCAPE '\\')"
        )
    return sql


def aging_summary(
    as_of: datetime.date,
    *,
    buckets: Buckets = Buckets(),
    customer_ids=None,
    customer_search: str = "",
    credits_only: bool = False,
    over_days: int | None = None,
    offset: int = 0,
    limit: int | None = 50,
) -> AgingPage:
    """A page of customers (by code) with their open items as of `as_of` by bucket, the
    totals over every matching customer, and how many match — in one statement.

    `customer_search` keeps the customer whose code it is and those whose name holds it;
    `credits_only` keeps customers who are owed money overall (a negative total);
    `over_days` keeps customers with something owed more than N days overdue."""
    params: dict = {"as_of": as_of}
    n = len(buckets.edges) + 2
    conditions = _bucket_conditions(buckets, params, as_of)
    having = []
    if credits_only:
        having.append("SUM(amount) < 0")
    if over_days is not None:
        params["over"] = as_of - datetime.timedelta(days=int(over_days))
        having.append("SUM(amount) FILTER (WHERE owed = 1 AND age_date < %(over)s) > 0")
    # One pass over the items, each added to its customer's bucket (FILTER: one addition
    # per item, not one per bucket); totals and the count over every matching customer
    # by window; the customers' names joined to the grouped rows only.
    columns = ", ".join(
        f"COALESCE(SUM(amount) FILTER (WHERE {condition}), 0) AS b{i}"
        for i, condition in enumerate(conditions)
    )
    names = ", ".join(f"ROUND(b{i}, 2) AS b{i}" for i in range(n))
    totals = ", ".join(f"ROUND(SUM(b{i}) OVER (), 2) AS t{i}" for i in range(n))
    nonzero = " OR ".join(f"ROUND(b{i}, 2) <> 0" for i in range(n))
    customer = Customer._meta.db_table
    params["offset"] = int(offset)
    paging = " LIMIT %(limit)s OFFSET %(offset)s" if limit is not None else ""
    if limit is not None:
        params["limit"] = int(limit)
    having_sql = "HAVING " + " AND ".join(having) if having else ""
    tail = f""",
        per_customer AS (
            SELECT customer_id, {columns}, SUM(amount) AS total
            FROM moves GROUP BY customer_id
            {having_sql}
        ),
        shown AS (
            SELECT customer_id, {names}, ROUND(total, 2) AS total, {totals},
                   ROUND(SUM(total) OVER (), 2) AS whole, COUNT(*) OVER () AS customers
            FROM per_customer WHERE {nonzero}
        )
        SELECT s.customer_id, {", ".join(f"b{i}" for i in range(n))}, total, cu.code, cu.name,
               {", ".join(f"t{i}" for i in range(n))}, whole, customers
        FROM shown AS s JOIN {customer} AS cu ON cu.id = s.customer_id
        ORDER BY cu.code || '', s.customer_id{paging}
        """  # noqa: S608 - table names are ours; values are parameters
    narrowed = _customer_filter(params, customer_ids, customer_search)
    sql = "".join((_moves_sql(narrowed), tail))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    labels = buckets.labels
    if not fetched:
        if offset:  # past the last page: still report the totals
            whole = aging_summary(
                as_of,
                buckets=buckets,
                customer_ids=customer_ids,
                customer_search=customer_search,
                credits_only=credits_only,
                over_days=over_days,
                limit=1,
            )
            whole.rows = []
            return whole
        return AgingPage(rows=[], totals=[ZERO] * n, total=ZERO, customers=0, labels=labels)
    rows = []
    for r in fetched:
        rows.append(
            AgingRow(
                customer_id=r[0],
                buckets=[rounded(v) for v in r[1 : 1 + n]],
                total=rounded(r[1 + n]),
                code=r[2 + n],
                name=r[3 + n],
            )
        )
    last = fetched[0]
    return AgingPage(
        rows=rows,
        totals=[rounded(v) for v in last[4 + n : 4 + 2 * n]],
        total=rounded(last[4 + 2 * n]),
        customers=last[5 + 2 * n],
        labels=labels,
    )


def aging_totals(as_of: datetime.date, *, buckets: Buckets = Buckets()) -> AgingPage:
    """Every customer's open items as of `as_of`, totalled by bucket (no rows)."""
    whole = aging_summary(as_of, buckets=buckets, limit=1)
    whole.rows = []
    return whole


def receivable_split(as_of: datetime.date) -> tuple[Decimal, Decimal]:
    """(open items' total, what of it is owed past due) as of `as_of`: one aggregate over
    the same items as the aging, for the dashboard's trend."""
    params: dict = {"as_of": as_of}
    tail = (
        "SELECT ROUND(COALESCE(SUM(amount), 0), 2), ROUND(COALESCE(SUM(amount) FILTER "
        "(WHERE owed = 1 AND age_date < %(as_of)s), 0), 2) FROM moves"
    )
    with connection.cursor() as cursor:
        cursor.execute("".join((_moves_sql(""), tail)), params)
        total, overdue = cursor.fetchone()
    return rounded(total), rounded(overdue)


def aging_items(
    as_of: datetime.date,
    *,
    buckets: Buckets = Buckets(),
    customer_ids=None,
    offset: int = 0,
    limit: int | None = 100,
) -> list[AgingItem]:
    """The open documents as of `as_of` (one customer's, or some customers'), oldest
    ageing date first, each with its days overdue and bucket."""
    params: dict = {"as_of": as_of, "offset": int(offset)}
    paging = ""
    if limit is not None:
        params["limit"] = int(limit)
        paging = " LIMIT %(limit)s OFFSET %(offset)s"
    tail = (
        "SELECT id, number, kind, customer_id, date, due_date, ROUND(open_amount, 2), "
        "age_date FROM aged ORDER BY customer_id, age_date, id"
    )
    sql = "".join((_open_items_sql(_customer_filter(params, customer_ids)), tail, paging))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    items = []
    for pk, number, kind, customer_id, date, due_date, amount, age_date in fetched:
        days = (as_of - _date(age_date)).days
        items.append(
            AgingItem(
                document_id=pk,
                number=number,
                kind=kind,
                customer_id=customer_id,
                date=_date(date),
                due_date=_date(due_date),
                open_amount=rounded(amount),
                days_overdue=max(days, 0),
                bucket=buckets.index(days),
            )
        )
    return items


def open_amounts_as_of(as_of: datetime.date, *, customer_ids=None) -> dict[int, Decimal]:
    """{document id: open amount} of every item open as of `as_of` (non-zero only), as
    the aging reads them."""
    return {
        item.document_id: item.open_amount
        for item in aging_items(as_of, customer_ids=customer_ids, limit=None)
    }
