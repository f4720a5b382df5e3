"""Create (or bring up to date) the PostgreSQL role the app connects as: it may read and
write the app's rows, and nothing else.

    MIGRATE_DATABASE_URL=postgres://owner@db/creditdesk APP_ROLE_PASSWORD='...' \\
        python manage.py create_app_role --role creditdesk_app

Run it as the role that owns the tables (the one `migrate` runs as), after `migrate`.
The app role gets: LOGIN; CONNECT on the database; USAGE on the schema; SELECT, INSERT,
UPDATE, DELETE on every table and USAGE, SELECT on every sequence — now and, through
ALTER DEFAULT PRIVILEGES, on the tables later migrations create. It is not a superuser,
creates no databases, roles or objects (CREATE on the schema is revoked from PUBLIC), does
not own any table, and has no TRUNCATE, REFERENCES or TRIGGER right. So it cannot
`ALTER TABLE … DISABLE TRIGGER` or replace a trigger's function (only an owner can),
`TRUNCATE`, or `SET session_replication_role` (superusers only), and the ledger's triggers
hold against it.

TEMPORARY on the database is revoked from PUBLIC too: the trigger functions name their
tables unqualified, and a session's temporary tables come first in the search path, so a
role that could `CREATE TEMP TABLE ledger_journalline (…)` would make the balance check
read its own fake rows and commit an unbalanced entry.

After granting, the command checks the role's effective rights (PUBLIC's grants and
memberships included) and refuses — changing nothing — if it could still own, create,
truncate or act as a superuser or an owner. Running it again changes the password and
re-applies the grants.
"""

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

TABLE_RIGHTS = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_RIGHTS = "USAGE, SELECT"


class Command(BaseCommand):
    help = "Create or update the least-privilege PostgreSQL role the app connects as."

    def add_arguments(self, parser):
        parser.add_argument("--role", default="creditdesk_app", help="role name")
        parser.add_argument(
            "--password",
            default=os.environ.get("APP_ROLE_PASSWORD", ""),
            help="the role's password (default: $APP_ROLE_PASSWORD, which keeps it out of "
            "the shell's history and the process list)",
        )
        parser.add_argument("--schema", default="public")

    def handle(self, *args, role, password, schema, **options):
        if connection.vendor != "postgresql":
            raise CommandError(
                "create_app_role is for PostgreSQL; SQLite has no roles (it is the "
                "single-user development database)."
            )
        if not role.replace("_", "").isalnum() or not role.isascii():
            raise CommandError("A role name has only letters, digits and underscores.")
        if not password:
            raise CommandError("Give the role a password: --password or APP_ROLE_PASSWORD.")
        from psycopg import sql

        connection.ensure_connection()
        raw = connection.connection  # psycopg quotes identifiers for this connection

        def run(statement):
            with connection.cursor() as cursor:
                cursor.execute(statement.as_string(raw))

        def rows(query, params):
            with connection.cursor() as cursor:
                cursor.execute(query, params)
                return [row[0] for row in cursor.fetchall()]

        ident = sql.Identifier(role)
        s = sql.Identifier(schema)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_user, current_database()")
                me, database = cursor.fetchone()
            if me == role:
                raise CommandError(
                    f"You are connected as {role} itself: run this as the owner of the "
                    "tables (set MIGRATE_DATABASE_URL)."
                )
            exists = bool(rows("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]))
            # Only a superuser may even name the superuser, replication and RLS-bypass
            # attributes in ALTER ROLE; an owner with CREATEROLE leaves them (off unless a
            # superuser set them, which _problems refuses).
            attributes = "LOGIN NOCREATEDB NOCREATEROLE INHERIT"
            superuser = "SELECT rolsuper FROM pg_roles WHERE rolname = %s"
            if not exists or rows(superuser, [me])[0]:
                attributes += " NOSUPERUSER NOREPLICATION NOBYPASSRLS"
            elif rows(superuser, [role])[0]:
                raise CommandError(
                    f"{role} is a superuser, and only a superuser can change that: "
                    f"ALTER ROLE {role} NOSUPERUSER, or choose another name."
                )
            run(
                sql.SQL(
                    ("ALTER" if exists else "CREATE") + " ROLE {} " + attributes + " PASSWORD {}"
                ).format(ident, sql.Literal(password))
            )
            db = sql.Identifier(database)
            # Later migrations create tables as the owner: default privileges are per
            # creating role, so set them for the connected role and every owner of a table here.
            owners = sorted(
                {me}
                | set(
                    rows(
                        "SELECT DISTINCT tableowner FROM pg_tables "
                        "WHERE schemaname = %s AND tableowner <> %s",
                        [schema, role],
                    )
                )
            )
            statements = [
                sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(db, ident),
                sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(db),
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, ident),
                sql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC").format(s),
                sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(s, ident),
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, ident),
                sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(s, ident),
                sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(s, ident),
                sql.SQL("GRANT " + TABLE_RIGHTS + " ON ALL TABLES IN SCHEMA {} TO {}").format(
                    s, ident
                ),
                sql.SQL("GRANT " + SEQUENCE_RIGHTS + " ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                    s, ident
                ),
            ]
            unreachable = []
            for owner in owners:
                if not rows("SELECT pg_has_role(%s, 'MEMBER')", [owner])[0]:
                    unreachable.append(owner)
                    continue
                o = sql.Identifier(owner)
                for kind, rights in (("TABLES", TABLE_RIGHTS), ("SEQUENCES", SEQUENCE_RIGHTS)):
                    statements += [
                        sql.SQL(
                            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} REVOKE ALL ON "
                            + kind
                            + " FROM {}"
                        ).format(o, s, ident),
                        sql.SQL(
                            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT "
                            + rights
                            + " ON "
                            + kind
                            + " TO {}"
                        ).format(o, s, ident),
                    ]
            for statement in statements:
                run(statement)
            problems = self._problems(rows, role=role, database=database, schema=schema)
            if problems:
                raise CommandError(
                    f"{role} would not be least-privilege, so nothing was changed:\n- "
                    + "\n- ".join(problems)
                )
        for owner in unreachable:
            self.stderr.write(
                f"Tables in {schema} are owned by {owner}, whose default privileges {me} "
                f"can't set: tables {owner} creates later won't be granted to {role} until "
                f"this command is run again as {owner}."
            )
        self.stdout.write(
            f"{'Updated' if exists else 'Created'} role {role} on {database}: "
            f"{TABLE_RIGHTS} on the tables of {schema} (owned by {', '.join(owners)}), no "
            "DDL, no TRUNCATE, no triggers, no temporary tables. Point DATABASE_URL at it; "
            "run migrations with MIGRATE_DATABASE_URL as the owner."
        )

    @staticmethod
    def _problems(rows, *, role, database, schema) -> list[str]:
        """What the role could still do beyond reading and writing rows: its effective
        rights, counting PUBLIC's grants and every role it is a member of."""
        problems = []
        for name in rows(
            "SELECT unnest(ARRAY["
            "CASE WHEN rolsuper THEN 'a superuser' END, "
            "CASE WHEN rolreplication THEN 'a replication role' END, "
            "CASE WHEN rolbypassrls THEN 'exempt from row security' END, "
            "CASE WHEN rolcreatedb THEN 'allowed to create databases' END, "
            "CASE WHEN rolcreaterole THEN 'allowed to create roles' END]) "
            "FROM pg_roles WHERE rolname = %s",
            [role],
        ):
            if name:
                problems.append(f"it is {name} (a superuser must ALTER ROLE {role} to undo it)")
        for name in rows(
            "SELECT r.rolname FROM pg_roles r WHERE r.rolname <> %s "
            "AND pg_has_role(%s, r.oid, 'MEMBER') AND (r.rolsuper OR r.rolbypassrls "
            "OR r.rolcreaterole OR EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE c.relowner = r.oid AND n.nspname = %s) "
            "OR EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspowner = r.oid "
            "AND n.nspname = %s) OR EXISTS (SELECT 1 FROM pg_database d "
            "WHERE d.datdba = r.oid AND d.datname = current_database())) ORDER BY 1",
            [role, role, schema, schema],
        ):
            problems.append(
                f"it is a member of {name}, which owns objects here or is privileged: "
                f"REVOKE {name} FROM {role}"
            )
        for name in rows(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND pg_get_userbyid(c.relowner) = %s ORDER BY 1",
            [schema, role],
        ):
            problems.append(
                f"it owns {schema}.{name} (it could disable its triggers): "
                f"REASSIGN OWNED BY {role} TO the owner"
            )
        for right, why in (
            ("CREATE", "create schemas"),
            ("TEMPORARY", "create temporary tables that shadow the guarded ones"),
        ):
            if rows("SELECT has_database_privilege(%s, %s, %s)", [role, database, right])[0]:
                problems.append(
                    f"it may {why} (as the database's owner: REVOKE {right} ON DATABASE "
                    f"{database} FROM PUBLIC)"
                )
        if rows("SELECT has_schema_privilege(%s, %s, 'CREATE')", [role, schema])[0]:
            problems.append(
                f"it may create objects in {schema} (as its owner: REVOKE CREATE ON SCHEMA "
                f"{schema} FROM PUBLIC)"
            )
        for name in rows(
            "SELECT t.tablename FROM pg_tables t WHERE t.schemaname = %s AND ("
            "has_table_privilege(%s, quote_ident(t.schemaname) || '.' || "
            "quote_ident(t.tablename), 'TRUNCATE, TRIGGER, REFERENCES')) ORDER BY 1",
            [schema, role],
        ):
            problems.append(f"it may TRUNCATE {name} or add triggers or references to it")
        return problems
