"""Seed the default chart of accounts (accounting.md), the settings row and the role groups.

Permissions are attached to the groups after every migrate (ledger.apps), because they
only exist once all apps have migrated.
"""

from django.db import migrations

CHART = [
    ("1000", "Bank – Operating", "asset", "debit"),
    ("1010", "Credit Card Clearing", "asset", "debit"),
    ("1100", "Accounts Receivable (control)", "asset", "debit"),
    ("2100", "Customer Deposits", "liability", "credit"),
    ("2200", "Sales Tax Payable", "liability", "credit"),
    ("4000", "Sales", "income", "credit"),
    ("4100", "Sales Returns and Allowances", "contra_income", "debit"),
    ("4200", "Customer Rewards and Promotions", "contra_income", "debit"),
    ("6900", "Small Balance Write-offs", "expense", "debit"),
]
ROLES = ["A/R rep", "Poster", "Accountant"]


def seed(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    for code, name, type_, side in CHART:
        Account.objects.update_or_create(
            code=code, defaults={"name": name, "type": type_, "normal_side": side}
        )
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
