from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs):
    from django.contrib.auth.models import Group, Permission

    from config.roles import sync_role_permissions

    sync_role_permissions(Group, Permission)


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = "General ledger"

    def ready(self):
        # Permissions exist only after every app has migrated, so the role groups the
        # data migration created get their permissions here, after each `migrate`.
        post_migrate.connect(_sync_roles, dispatch_uid="ledger.sync_roles")
        from ledger import auth_audit

        auth_audit.connect()
