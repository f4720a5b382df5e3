"""Fixtures the ledger and invoicing test modules opt into (imported into the module, so
they apply to those modules only), e.g.
`pytestmark = pytest.mark.usefixtures("fast_password_hashing", "books_stay_balanced")`."""

import importlib
from contextlib import contextmanager

import pytest
from django.db import connection

from tests.helpers import ledger_problems

SEED_MIGRATIONS = (
    "ledger.migrations.0002_chart_roles_settings",
    "invoicing.migrations.0003_seed_items_taxes_sequences",
)


@pytest.fixture
def fast_password_hashing(settings):
    """Test users need no strong password hashing; it would dominate the run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def books_stay_balanced(db):
    """Whatever the test did through the services and views, check_ledger still passes."""
    yield
    problems = ledger_problems()
    assert not problems, "check_ledger fails after this test:\n" + "\n".join(problems)


@pytest.fixture
def reference_data(transactional_db):
    """The rows the migrations create (content types, permissions, role groups, chart of
    accounts, settings row, tax profiles, items, number sequences), for transactional tests.

    A transactional test before this one may have flushed them, with or without the
    post_migrate signal that recreates content types and permissions, so recreate both
    kinds; everything here is idempotent.
    """
    from django.apps import apps
    from django.core.management.sql import emit_post_migrate_signal

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    for module in SEED_MIGRATIONS:
        importlib.import_module(module).seed(apps, None)
    # The seeds may have just created the role groups: give them their permissions.
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")


@contextmanager
def database_guards_off():
    """Write around the database's own guards, as only a table owner could, so a test can
    corrupt the books and show that check_ledger still catches it: the Document
    CheckConstraints (SQLite: ignored inside the block; PostgreSQL: dropped) and, on
    PostgreSQL, the triggers (session_replication_role = replica). On PostgreSQL all of it
    comes back when the test's transaction rolls back, so use it in non-transactional
    tests only."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER TABLE waits for no deferred foreign-key check: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for name in ("document_balance_due_in_range", "document_reserved_within_open_credit"):
                cursor.execute(f"ALTER TABLE invoicing_document DROP CONSTRAINT {name}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            cursor.execute("SET LOCAL session_replication_role = replica")
            yield
        else:
            cursor.execute("PRAGMA ignore_check_constraints = ON")
            try:
                yield
            finally:
                cursor.execute("PRAGMA ignore_check_constraints = OFF")
