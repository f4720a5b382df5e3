"""System accounts are found by role, not by code: add Account.system_role and give the
seeded chart's accounts theirs (by their seeded code, where no account has the role yet)."""

import importlib

from django.db import migrations, models

CHART = importlib.import_module("ledger.migrations.0002_chart_roles_settings").CHART


def assign_roles(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    for code, name, type_, side, role in CHART:
        if Account.objects.filter(system_role=role).exists():
            continue
        account = Account.objects.filter(code=code).first()
        if account is None:  # never seeded (or deleted before accounts were protected)
            Account.objects.create(
                code=code, name=name, type=type_, normal_side=side, system_role=role
            )
        elif account.system_role is None:
            account.system_role = role
            account.save(update_fields=["system_role"])


def clear_roles(apps, schema_editor):
    apps.get_model("ledger", "Account").objects.update(system_role=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0005_idempotency_key")]

    operations = [
        migrations.AddField(
            model_name="account",
            name="system_role",
            field=models.CharField(
                blank=True,
                choices=[
                    ("receivable", "Accounts Receivable (control)"),
                    ("deposits", "Customer Deposits"),
                    ("sales_tax", "Sales Tax Payable"),
                    ("bank", "Bank"),
                    ("card_clearing", "Credit Card Clearing"),
                    ("sales", "Sales"),
                    ("sales_returns", "Sales Returns and Allowances"),
                    ("rewards", "Customer Rewards and Promotions"),
                    ("write_offs", "Small Balance Write-offs"),
                ],
                help_text="What the services post to this account for. Set by the chart's seed; it can't be changed or removed.",
                max_length=20,
                null=True,
                unique=True,
            ),
        ),
        migrations.RunPython(assign_roles, clear_roles),
    ]
