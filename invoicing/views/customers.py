"""The customer pages that show A/R: the Customers list (with each one's A/R Balance) and
the customer record (A/R Summary, deposits, invoices and credits). They live here because
A/R is invoicing's; creating and editing customers stays in the customers app. Their URLs
keep the `customers:` names (config/urls.py)."""

from django.http import Http404
from django.template.response import TemplateResponse
from django_tables2 import RequestConfig

from config.listing import table_page
from customers import selectors as customer_selectors
from customers.filters import CustomerFilter
from customers.models import Customer
from customers.tables import CustomerTable
from invoicing import selectors
from invoicing.tables import CustomerDocumentTable

customer_list_view = table_page(
    CustomerTable,
    CustomerFilter,
    "customers/customer_list.html",
    selectors.customer_list,
    export_name="customers",
)


def customer_detail_view(request, pk):
    try:
        customer = customer_selectors.customer_get(pk)
    except Customer.DoesNotExist:
        raise Http404("No such customer.") from None
    documents = CustomerDocumentTable(selectors.customer_documents(customer))
    RequestConfig(request, paginate={"per_page": 25}).configure(documents)
    return TemplateResponse(
        request,
        "customers/customer_detail.html",
        {
            "customer": customer,
            "ar_balance": selectors.customer_ar_balance(customer),
            "open_count": selectors.posted_documents()
            .filter(customer=customer)
            .exclude(balance_due=0)
            .count(),
            "documents": documents,
            "deposits_held": selectors.customer_deposits_held(customer),
            "deposits": selectors.customer_deposits(customer)[:50],
        },
    )
