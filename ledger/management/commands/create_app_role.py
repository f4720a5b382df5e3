"""Create (or bring up to date) the PostgreSQL role the app connects as: it may read and
write the app's rows, and nothing else.

    MIGRATE_DATABASE_URL=postgres://owner@db/creditdesk \\
        python manage.py create_app_role --role creditdesk_app --password '...'

Run it as the role that owns the tables (the one `migrate` runs as), after `migrate`.
The app role gets: LOGIN; CONNECT on the database; USAGE on the schema; SELECT, INSERT,
UPDATE, DELETE on every table and USAGE, SELECT on every sequence — now and, through
ALTER DEFAULT PRIVILEGES, on the tables later migrations create. It is not a superuser,
creates no databases, roles or objects (CREATE on the schema is revoked from PUBLIC), does
not own any table, and has no TRUNCATE, REFERENCES or TRIGGER right. So it cannot
`ALTER TABLE … DISABLE TRIGGER` (only an owner can), `TRUNCATE`, or
`SET session_replication_role` (superusers only), and the ledger's triggers hold against
it. Running the command again changes the password and re-applies the grants.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

TABLE_RIGHTS = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_RIGHTS = "USAGE, SELECT"


class Command(BaseCommand):
    help = "Create or update the least-privilege PostgreSQL role the app connects as."

    def add_arguments(self, parser):
        parser.add_argument("--role", default="creditdesk_app", help="role name")
        parser.add_argument("--password", required=True, help="the role's password")
        parser.add_argument("--schema", default="public")

    def handle(self, *args, role, password, schema, **options):
        if connection.vendor != "postgresql":
            raise CommandError(
                "create_app_role is for PostgreSQL; SQLite has no roles (it is the "
                "single-user development database)."
            )
        if not role.replace("_", "").isalnum() or not role.isascii():
            raise CommandError("A role name has only letters, digits and underscores.")
        from psycopg import sql

        connection.ensure_connection()
        raw = connection.connection  # psycopg quotes identifiers for this connection

        def run(statement, *values):
            with connection.cursor() as cursor:
                cursor.execute(statement.as_string(raw), values or None)

        ident = sql.Identifier(role)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT current_user, current_database()")
            owner, database = cursor.fetchone()
            if owner == role:
                raise CommandError(
                    f"You are connected as {role} itself: run this as the owner of the "
                    "tables (set MIGRATE_DATABASE_URL)."
                )
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            exists = cursor.fetchone() is not None
            verb = "ALTER" if exists else "CREATE"
            run(
                sql.SQL(
                    verb + " ROLE {} LOGIN PASSWORD {} NOSUPERUSER NOCREATEDB NOCREATEROLE "
                    "NOREPLICATION NOBYPASSRLS INHERIT"
                ).format(ident, sql.Literal(password))
            )
            s = sql.Identifier(schema)
            for statement in (
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(database), ident
                ),
                sql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC").format(s),
                sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(s, ident),
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, ident),
                sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(s, ident),
                sql.SQL("GRANT " + TABLE_RIGHTS + " ON ALL TABLES IN SCHEMA {} TO {}").format(
                    s, ident
                ),
                sql.SQL("GRANT " + SEQUENCE_RIGHTS + " ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                    s, ident
                ),
                sql.SQL(
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT "
                    + TABLE_RIGHTS
                    + " ON TABLES TO {}"
                ).format(sql.Identifier(owner), s, ident),
                sql.SQL(
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT "
                    + SEQUENCE_RIGHTS
                    + " ON SEQUENCES TO {}"
                ).format(sql.Identifier(owner), s, ident),
            ):
                run(statement)
            cursor.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tableowner = %s",
                [schema, role],
            )
            if cursor.fetchone()[0]:
                raise CommandError(
                    f"{role} owns tables in {schema}: it could disable their triggers. "
                    f"Reassign them to the owner first (REASSIGN OWNED BY {role} TO {owner})."
                )
        self.stdout.write(
            f"{'Updated' if exists else 'Created'} role {role} on {database}: "
            f"{TABLE_RIGHTS} on the tables of {schema} (owned by {owner}), no DDL, no "
            "TRUNCATE, no triggers. Point DATABASE_URL at it; run migrations with "
            "MIGRATE_DATABASE_URL as the owner."
        )
