"""`manage.py seed_demo`: deterministic, idempotent demo data (customers, documents,
payments, refunds and deposits). It lives in invoicing because it uses both apps;
customers never imports invoicing.

Running it twice changes nothing: customers are matched by code and demo documents by
customer, date and description.
"""

import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from config.roles import Role
from customers.models import BillingTerms, Customer
from customers.services import customer_create
from invoicing.models import (
    CreditReason,
    Document,
    DocumentKind,
    Item,
    PaymentMethod,
    TaxProfile,
)
from invoicing.services import (
    Allocation,
    LineInput,
    credit_memo_create_from_invoice,
    deposit_apply,
    deposit_post,
    deposit_record,
    deposit_refund_prepare,
    deposit_refund_release,
    document_create,
    document_post,
    payment_record,
    refund_prepare,
)
from ledger.selectors import key_result

D = datetime.date
CUSTOMERS = [
    {
        "code": "MSD",
        "name": "Montboro School District",
        "billing_contact": "Erica Dawson",
        "email": "edawson@montboro.k12.co.us",
        "phone": "(970) 555-0142",
        "address_line1": "1498 Lakeshore Drive",
        "city": "Montboro",
        "state": "CO",
        "postal_code": "80508",
        "billing_terms": BillingTerms.NET_30,
    },
    {
        "code": "HARB",
        "name": "Harbor Light Photography",
        "billing_contact": "Marcus Webb",
        "email": "accounts@harborlightphoto.com",
        "phone": "(207) 555-0199",
        "address_line1": "22 Wharf Street",
        "city": "Portland",
        "state": "ME",
        "postal_code": "04101",
        "billing_terms": BillingTerms.NET_15,
    },
    {
        "code": "CEDAR",
        "name": "Cedar Ridge Veterinary Clinic",
        "billing_contact": "Dr. Anita Shah",
        "email": "billing@cedarridgevet.com",
        "phone": "(503) 555-0110",
        "address_line1": "880 Alder Road",
        "city": "Salem",
        "state": "OR",
        "postal_code": "97301",
        "billing_terms": BillingTerms.NET_30,
    },
    {
        "code": "BRKS",
        "name": "Brookside Builders Supply",
        "billing_contact": "Tom Kowalski",
        "email": "ap@brooksidebuilders.com",
        "phone": "(414) 555-0173",
        "address_line1": "4100 Industrial Parkway",
        "address_line2": "Dock 3",
        "city": "Milwaukee",
        "state": "WI",
        "postal_code": "53209",
        "billing_terms": BillingTerms.NET_60,
    },
    {
        "code": "LUNA",
        "name": "Luna Café & Bakery",
        "billing_contact": "Sofia Marquez",
        "email": "sofia@lunacafe.example",
        "phone": "(505) 555-0128",
        "address_line1": "311 Canyon Road",
        "city": "Santa Fe",
        "state": "NM",
        "postal_code": "87501",
        "billing_terms": BillingTerms.DUE_ON_RECEIPT,
    },
    {
        "code": "NWLAW",
        "name": "Northwind Legal Partners",
        "billing_contact": "Grace Holloway",
        "email": "payables@northwindlegal.com",
        "phone": "(312) 555-0187",
        "address_line1": "200 W Madison St, Suite 1800",
        "city": "Chicago",
        "state": "IL",
        "postal_code": "60606",
        "billing_terms": BillingTerms.NET_30,
    },
    {
        "code": "OLDM",
        "name": "Old Mill Antiques",
        "billing_contact": "Henry Price",
        "email": "henry@oldmillantiques.example",
        "address_line1": "9 Mill Lane",
        "city": "Stowe",
        "state": "VT",
        "postal_code": "05672",
        "billing_terms": BillingTerms.NET_30,
        "is_active": False,
        "notes": "Closed their shop in 2025; kept for history.",
    },
]

# code -> [(date, description, [(item, qty, price)], post?)]; a negative total is a credit memo
DOCUMENTS = {
    "MSD": [
        # aACE's example history of Montboro School District, then its reward credit.
        (D(2021, 5, 14), "Montboro School District", [("PRT", "1", "12837.50")], True),
        (D(2021, 7, 9), "Montboro School District", [("PRT", "1", "2343.00")], True),
        (D(2023, 1, 13), "Technology Promotional", [("SVC", "1", "47375.34")], True),
        (D(2023, 2, 24), "Montboro School District", [("PRT", "1", "51000.00")], True),
        (D(2023, 5, 3), "Montboro School District", [("PRT", "1", "2240.00")], True),
        (D(2023, 5, 11), "Montboro School District", [("PRT", "1", "8737.50")], True),
        (
            D(2023, 6, 1),
            "Credit memo to extend Spring 2023 promotion.",
            [("REW", "1", "-250.00")],
            True,
        ),
        (
            D(2026, 9, 14),
            "Fall picture day prints",
            [("PRT", "24", "250.00"), ("SHIP", "1", "45.00")],
            True,
        ),
        (D(2026, 10, 20), "Yearbook proofs", [("SVC", "12", "125.00")], True),
    ],
    "HARB": [
        (D(2026, 10, 2), "Studio rental, October", [("SVC", "8", "125.00")], True),
        (D(2026, 11, 16), "Canvas prints", [("PRT", "3", "250.00")], False),
    ],
    "CEDAR": [
        (D(2026, 8, 28), "Clinic brochures", [("PRT", "5", "250.00"), ("SHIP", "1", "15.00")], True)
    ],
    "BRKS": [
        (D(2026, 7, 15), "Catalog printing", [("PRT", "40", "250.00")], True),
        (D(2026, 10, 30), "Catalog design services", [("SVC", "16", "125.00")], True),
    ],
    "LUNA": [(D(2026, 11, 9), "Menu boards", [("PRT", "2", "250.00")], True)],
    "NWLAW": [(D(2026, 11, 3), "Annual report design", [("SVC", "30", "125.00")], True)],
}


# Montboro's history invoices, paid in full (date paid, invoice date, amount).
MSD_PAID = [
    (D(2021, 6, 10), D(2021, 5, 14), "12837.50"),
    (D(2021, 8, 5), D(2021, 7, 9), "2343.00"),
    (D(2023, 2, 20), D(2023, 1, 13), "47375.34"),
    (D(2023, 3, 20), D(2023, 2, 24), "51000.00"),
    (D(2023, 5, 15), D(2023, 5, 3), "2240.00"),
    (D(2023, 6, 8), D(2023, 5, 11), "8737.50"),
]


# Payments, each keyed: (key, customer, date, amount, method, reference, [(the invoice's
# date or description, amount applied)]).
# fmt: off
PAYMENTS = [
    # Montboro paid its history by check, as the aACE example shows (Balance 0.00).
    *(
        (f"demo-msd-{n}", "MSD", paid, amount, PaymentMethod.CHECK, f"{4100 + n}", [(day, amount)])
        for n, (paid, day, amount) in enumerate(MSD_PAID, start=1)
    ),
    # Harbor Light paid October in full by card; Cedar Ridge overpaid by 31.87.
    ("demo-harb-1", "HARB", D(2026, 10, 20), "1000.00", PaymentMethod.CARD, "VISA 4242",
     [("Studio rental, October", "1000.00")]),
    ("demo-cedar-1", "CEDAR", D(2026, 9, 25), "1400.00", PaymentMethod.EFT, "ACH 77120",
     [("Clinic brochures", "1368.13")]),
]
# fmt: on


class Command(BaseCommand):
    help = "Load deterministic demo data (safe to run again: it only adds what is missing)."

    @transaction.atomic
    def handle(self, *args, **options):
        system = self._system_user()
        created = 0
        for fields in CUSTOMERS:
            if Customer.objects.filter(code=fields["code"]).exists():
                continue
            customer_create(by=system, **fields)
            created += 1
        docs = 0
        items = {i.code: i for i in Item.objects.select_related("default_tax_profile")}
        out = TaxProfile.objects.get(code="OUT")
        # History lines were billed tax-exempt (OUT), as in the aACE example.
        for code, rows in DOCUMENTS.items():
            customer = Customer.objects.get(code=code)
            for date, description, lines, post in rows:
                if customer.documents.filter(date=date, description=description).exists():
                    continue
                credit = any(Decimal(qty) * Decimal(price) < 0 for _, qty, price in lines)
                doc = document_create(
                    kind=DocumentKind.CREDIT_MEMO if credit else DocumentKind.INVOICE,
                    customer=customer,
                    date=date,
                    description=description,
                    lines=[
                        LineInput(
                            item=items[item],
                            quantity=Decimal(qty),
                            unit_price=Decimal(price),
                            tax_profile=out
                            if date.year < 2026
                            else items[item].default_tax_profile or out,
                        )
                        for item, qty, price in lines
                    ],
                    by=system,
                )
                if post:
                    document_post(document=doc, by=system)
                docs += 1
        money = self._money_flows(system)
        self.stdout.write(
            f"Demo data: {created} customers, {docs} documents and {money} payments, "
            "refunds and deposits added."
        )

    def _money_flows(self, system) -> int:
        """Payments (Montboro's paid history, a paid invoice, an overpayment), a pending
        refund, and deposits in several states. Each is keyed, so a rerun adds nothing."""
        added = 0

        def invoice(code, which):
            """A demo invoice by its description or, where descriptions repeat, its date."""
            key = "date" if isinstance(which, datetime.date) else "description"
            return Document.objects.get(
                customer__code=code, kind=DocumentKind.INVOICE, **{key: which}
            )

        def pay(key, code, date, amount, method, reference, pays=()):
            nonlocal added
            done = key_result(key)
            if done is not None:
                return done
            customer = Customer.objects.get(code=code)
            allocations = [
                Allocation(document=invoice(code, d), amount=Decimal(a)) for d, a in pays
            ]
            payment = payment_record(
                customer=customer,
                date=date,
                method=method,
                amount=Decimal(amount),
                reference=reference,
                allocations=allocations,
                key=key,
                by=system,
            )
            added += 1
            return document_post(document=payment, by=system)

        for row in PAYMENTS:
            pay(*row)

        # Brookside returned 4 catalogs: a posted credit memo, half of it pending refund.
        catalog = invoice("BRKS", "Catalog printing")
        if not catalog.credit_memos.exists():
            memo = credit_memo_create_from_invoice(
                invoice=catalog,
                quantities={catalog.lines.get().pk: Decimal("4")},
                reason=CreditReason.RETURN,
                date=D(2026, 8, 5),
                note="Four catalogs arrived water-damaged.",
                by=system,
            )
            memo = document_post(document=memo, by=system)
            refund_prepare(
                document=memo,
                amount=Decimal("500.00"),
                method=PaymentMethod.CHECK,
                date=D(2026, 11, 18),
                memo="Refund half of the return; the rest stays as credit.",
                key="demo-brks-refund",
                by=system,
            )
            added += 2

        def deposit(key, code, date, amount, method, post=True):
            nonlocal added
            done = key_result(key)
            if done is not None:
                return done
            added += 1
            dep = deposit_record(
                customer=Customer.objects.get(code=code),
                date=date,
                method=method,
                amount=Decimal(amount),
                reference="",
                key=key,
                by=system,
            )
            return deposit_post(deposit=dep, by=system) if post else dep

        # Luna Café: a deposit partly applied to its menu boards. Northwind: one held, one
        # refunded in full, one waiting to be posted.
        luna = deposit("demo-luna-1", "LUNA", D(2026, 11, 2), "200.00", PaymentMethod.CHECK)
        if not luna.applications.exists():
            deposit_apply(
                deposit=luna,
                invoice=invoice("LUNA", "Menu boards"),
                amount=Decimal("200.00"),
                date=D(2026, 11, 9),
                by=system,
            )
        deposit("demo-nwlaw-1", "NWLAW", D(2026, 10, 15), "1000.00", PaymentMethod.EFT)
        refunded = deposit("demo-nwlaw-2", "NWLAW", D(2026, 10, 1), "300.00", PaymentMethod.CARD)
        if not refunded.refunds.exists():
            refund = deposit_refund_prepare(
                deposit=refunded,
                amount=Decimal("300.00"),
                method=PaymentMethod.CARD,
                date=D(2026, 10, 20),
                by=system,
            )
            deposit_refund_release(refund=refund, by=self._second_poster(), date=D(2026, 10, 20))
        deposit("demo-nwlaw-3", "NWLAW", D(2026, 11, 19), "250.00", PaymentMethod.CHECK, post=False)
        return added

    def _second_poster(self):
        """Four eyes: demo refunds prepared by the seed are released by another Poster."""
        return _demo_poster("demo-seed-2", "Demo", "Releaser")

    def _system_user(self):
        """The author of demo data: a Poster who can't log in."""
        return _demo_poster("demo-seed", "Demo", "Data")


def _demo_poster(username: str, first: str, last: str):
    """A Poster who can't log in (made once), fresh from the database: no cached
    permissions."""
    User = get_user_model()
    user, made = User.objects.get_or_create(
        username=username, defaults={"first_name": first, "last_name": last}
    )
    if made:
        user.set_unusable_password()
        user.save()
    user.groups.add(Group.objects.get(name=Role.POSTER))
    return User.objects.get(pk=user.pk)
