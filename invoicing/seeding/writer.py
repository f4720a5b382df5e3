"""Bulk writing for the seeder: rows (dicts of attribute names) collected per model, ids
handed out before writing so rows can name each other, written per model with
PostgreSQL's COPY (multi-row `bulk_create` elsewhere)."""

from collections import defaultdict, deque

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
            pool.extend(self._reserve(model, 2_000))
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
        from psycopg.types.json import Jsonb

        json = {f.attname for f, _ in fields if f.get_internal_type() == "JSONField"}
        columns = ", ".join(connection.ops.quote_name(f.column) for f, _ in fields)
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(
                        [
                            Jsonb(row.get(f.attname, d))
                            if f.attname in json
                            else row.get(f.attname, d)
                            for f, d in fields
                        ]
                    )
