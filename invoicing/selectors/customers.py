"""One customer's A/R: their documents and deposits, their A/R balance (the open amounts
of their posted documents), and the customer list annotated with it."""

from decimal import Decimal

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from customers.models import Customer
from invoicing.models import Deposit, Document, DocumentStatus
from invoicing.selectors.deposits import deposits_with_usage
from invoicing.selectors.documents import document_list, posted_documents
from ledger.aggregates import grouped_money_subquery, money_sum


def customer_list() -> QuerySet[Customer]:
    """Customers with their A/R Balance, for the list (one query however many rows)."""
    return Customer.objects.annotate(ar_balance=ar_balance_subquery())


def customer_summary(pk: int) -> Customer:
    """The customer of the customer page with its A/R Summary in the same query:
    `ar_balance`, `open_count` (posted documents still open) and `deposits_held` (what
    their posted deposits still hold). Raises Customer.DoesNotExist."""
    open_rows = (
        posted_documents()
        .filter(customer=OuterRef("pk"))
        .exclude(balance_due=0)
        .order_by()
        .values("customer")
        .annotate(n=Count("pk"))
        .values("n")
    )
    held = Deposit.objects.filter(customer=OuterRef("pk"), status=DocumentStatus.POSTED)
    return (
        Customer.objects.select_related("created_by", "updated_by")
        .annotate(
            ar_balance=ar_balance_subquery(),
            open_count=Coalesce(Subquery(open_rows), Value(0), output_field=IntegerField()),
            deposits_held=grouped_money_subquery(held, "customer", "remaining"),
        )
        .get(pk=pk)
    )


def customer_documents(customer) -> QuerySet[Document]:
    return document_list().filter(customer=customer).order_by("-date", "-id")


def customer_ar_balance(customer) -> Decimal:
    """Sum of the open amounts of the customer's posted documents; negative when we owe them."""
    return (
        posted_documents()
        .filter(customer=customer)
        .aggregate(total=money_sum("balance_due"))["total"]
    )


def ar_balance_subquery():
    """For annotating customers: `.annotate(ar_balance=ar_balance_subquery())`."""
    rows = posted_documents().filter(customer=OuterRef("pk"))
    return grouped_money_subquery(rows, "customer", "balance_due")


def open_balances_by_customer() -> dict[int, Decimal]:
    rows = posted_documents().values("customer_id").annotate(total=money_sum("balance_due"))
    return {r["customer_id"]: r["total"] for r in rows}


def customer_deposits(customer) -> QuerySet[Deposit]:
    """The customer's deposits with amount, used (applied), refunded and remaining."""
    return (
        deposits_with_usage()
        .filter(customer=customer)
        .exclude(status=DocumentStatus.VOID)
        .order_by("-date", "-id")
    )


def customer_deposits_held(customer) -> Decimal:
    return Deposit.objects.filter(customer=customer, status=DocumentStatus.POSTED).aggregate(
        total=money_sum("remaining")
    )["total"]
