"""Bulk writing for the seeder: rows (dicts of attribute names) collected per model, ids
handed out before writing so rows can name each other, written per model with
PostgreSQL's COPY (multi-row `bulk_create` elsewhere)."""

import datetime
import json
from collections import defaultdict, deque

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from customers.models import Customer
from invoicing.models import (
    Application,
    ApplicationBatch,
    Deposit,
    DepositApplication,
    Document,
    DocumentLine,
)
from ledger.models import AuditEvent, JournalEntry, JournalLine

CHUNK = 5_000  # invoices per transaction
# Written in this order (foreign keys are deferred anyway). A document's lines go in before
# the document row: the database takes lines only for a draft (or a document not written
# yet), as the services write them before posting.
TABLES = [
    Customer,
    JournalEntry,
    JournalLine,
    DocumentLine,
    Document,
    Deposit,
    ApplicationBatch,
    Application,
    DepositApplication,
    AuditEvent,
]


class BulkWriter:
    """Rows (dicts of attribute names) collected per model, ids handed out before writing
    so rows can name each other, and written in one go per model."""

    def __init__(self):
        self.pg = connection.vendor == "postgresql"
        self.rows: dict = defaultdict(list)
        self.pools: dict = defaultdict(deque)
        self.next_local: dict = {}
        self.defaults: dict = {}

    def new_id(self, model) -> int:
        pool = self.pools[model]
        if not pool:
            pool.extend(self._reserve(model, 10_000))
        return pool.popleft()

    def _reserve(self, model, n: int) -> list[int]:
        table = model._meta.db_table
        if self.pg:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, n],
                )
                return [row[0] for row in cursor.fetchall()]
        # SQLite (one writer at a time): after the largest id written so far.
        top = model.objects.aggregate(top=Max("id"))["top"] or 0
        start = max(top + 1, self.next_local.get(model, 1))
        self.next_local[model] = start + n
        return list(range(start, start + n))

    def add(self, model, **row) -> int:
        row.setdefault("id", self.new_id(model))
        self.rows[model].append(row)
        return row["id"]

    def _fields(self, model):
        if model not in self.defaults:
            now = timezone.now()
            fields = []
            for f in model._meta.concrete_fields:
                if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                    default = now
                elif f.primary_key:
                    default = None
                else:
                    default = f.get_default()
                fields.append((f, default))
            self.defaults[model] = fields
        return self.defaults[model]

    def flush(self) -> None:
        for model in TABLES:
            rows = self.rows.pop(model, [])
            if rows:
                self._write(model, rows)

    def _write(self, model, rows: list[dict]) -> None:
        fields = self._fields(model)
        if not self.pg:
            objs = []
            for row in rows:
                values = {f.attname: row.get(f.attname, d) for f, d in fields}
                objs.append(model(**values))
            model.objects.bulk_create(objs, batch_size=500)
            return
        names = [f.attname for f, _ in fields]
        defaults = [d for _, d in fields]
        columns = ", ".join(connection.ops.quote_name(f.column) for f, _ in fields)
        table = connection.ops.quote_name(model._meta.db_table)
        out = []
        for row in rows:
            values = [row.get(name, d) for name, d in zip(names, defaults, strict=True)]
            out.append("\t".join([_copy_text(v) for v in values]))
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for start in range(0, len(out), 5_000):
                    copy.write("\n".join(out[start : start + 5_000]) + "\n")


# COPY's text format: tab-separated columns, \N for NULL, backslash escapes.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value) -> str:
    kind = type(value)
    if value is None:
        return "\\N"
    if kind is str:
        return value.translate(_ESCAPES)
    if kind is bool:
        return "t" if value else "f"
    if kind is dict or kind is list:
        return json.dumps(value, cls=DjangoJSONEncoder).translate(_ESCAPES)
    if kind is datetime.datetime:
        return value.isoformat()
    return str(value)  # int, Decimal, date (and str subclasses such as TextChoices)
