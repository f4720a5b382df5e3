"""Seed the document number sequences, tax profiles and a few item codes."""

from decimal import Decimal

from django.db import migrations

TAXES = [
    ("OUT", "Out of scope / exempt", Decimal("0")),
    ("STD", "Standard sales tax", Decimal("8.25")),
]
# code, description, income account, credit account (None: Sales Returns), price, tax
ITEMS = [
    ("PRT", "Printed product", "4000", None, Decimal("250.00"), "STD"),
    ("SVC", "Professional services", "4000", None, Decimal("125.00"), "OUT"),
    ("SHIP", "Shipping and handling", "4000", None, Decimal("15.00"), "OUT"),
    ("REW", "Customer Reward", "4200", "4200", Decimal("0.00"), "OUT"),
]


def seed(apps, schema_editor):
    Sequence = apps.get_model("invoicing", "DocumentSequence")
    Sequence.objects.get_or_create(kind="invoice", defaults={"prefix": "INV-"})
    Sequence.objects.get_or_create(kind="credit_memo", defaults={"prefix": "CM-"})
    TaxProfile = apps.get_model("invoicing", "TaxProfile")
    profiles = {}
    for code, name, rate in TAXES:
        profiles[code], _ = TaxProfile.objects.get_or_create(
            code=code, defaults={"name": name, "rate": rate}
        )
    Account = apps.get_model("ledger", "Account")
    Item = apps.get_model("invoicing", "Item")
    for code, description, income, credit, price, tax in ITEMS:
        Item.objects.get_or_create(
            code=code,
            defaults={
                "description": description,
                "income_account": Account.objects.get(code=income),
                "credit_account": Account.objects.get(code=credit) if credit else None,
                "default_unit_price": price,
                "default_tax_profile": profiles[tax],
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("invoicing", "0002_initial"),
        ("ledger", "0002_chart_roles_settings"),
    ]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
