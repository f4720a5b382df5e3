"""Shared start-up for bench scripts: a throwaway database, migrated, outside the dev one.

BENCH_DATABASE_URL picks the database (default: a fresh SQLite file in a temp dir); a
PostgreSQL URL is used as given, so point it at a scratch database.
"""

import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup():
    sys.path.insert(0, str(ROOT))
    tmp = tempfile.mkdtemp(prefix="creditdesk-bench-")
    os.environ["VAR_DIR"] = tmp
    os.environ["DATABASE_URL"] = os.environ.get(
        "BENCH_DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "1"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "postgresql":
        # Start from an empty schema each run (the scratch database named by the URL).
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)


def analyze():
    """Fresh planner statistics after a bulk load, as a live database has them."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def user_in(group: str, username: str):
    """A new user in `group` (e.g. "Poster"), re-read so no stale permission cache."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    User = get_user_model()
    user = User.objects.create(username=username)
    user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)


def machine() -> str:
    from django.db import connection

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {connection.vendor}"
    )


class QueryCounter:
    """Counts the SQL statements run inside `with connection.execute_wrapper(counter):`."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)
