"""Seed the default chart of accounts (accounting.md), the settings row and the role groups.

Permissions are attached to the groups after every migrate (ledger.apps), because they
only exist once all apps have migrated.
"""

from django.db import migrations

# code, name, type, normal side, system role (ledger.models.SystemRole, from 0006 on).
CHART = [
    ("1000", "Bank – Operating", "asset", "debit", "bank"),
    ("1010", "Credit Card Clearing", "asset", "debit", "card_clearing"),
    ("1100", "Accounts Receivable (control)", "asset", "debit", "receivable"),
    ("2100", "Customer Deposits", "liability", "credit", "deposits"),
    ("2200", "Sales Tax Payable", "liability", "credit", "sales_tax"),
    ("4000", "Sales", "income", "credit", "sales"),
    ("4100", "Sales Returns and Allowances", "contra_income", "debit", "sales_returns"),
    ("4200", "Customer Rewards and Promotions", "contra_income", "debit", "rewards"),
    ("6900", "Small Balance Write-offs", "expense", "debit", "write_offs"),
]
ROLES = ["A/R rep", "Poster", "Accountant"]


def seed(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    # This migration's own model has no system_role yet; reseeding (tests, after a flush)
    # runs with the current one and gives each account its role.
    has_roles = any(f.name == "system_role" for f in Account._meta.get_fields())
    for code, name, type_, side, role in CHART:
        defaults = {"name": name, "type": type_, "normal_side": side}
        if has_roles:
            if Account.objects.filter(system_role=role).exists():
                continue  # the role's account stays as the accountants left it
            defaults["system_role"] = role
        Account.objects.update_or_create(code=code, defaults=defaults)
    apps.get_model("ledger", "LedgerSettings").objects.get_or_create(pk=1)
    Group = apps.get_model("auth", "Group")
    for role in ROLES:
        Group.objects.get_or_create(name=role)


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
