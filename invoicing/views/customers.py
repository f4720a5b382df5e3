"""The customer pages that show A/R: the Customers list (with each one's A/R Balance) and
the customer record (A/R Summary, deposits, invoices and credits). They live here because
A/R is invoicing's; creating and editing customers stays in the customers app. Their URLs
keep the `customers:` names (config/urls.py)."""

from django.http import Http404
from django.template.response import TemplateResponse
from django_tables2 import RequestConfig

from config.listing import TABLE_TEMPLATE, cell_attrs_once, table_page
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
        # The customer and their A/R Summary in one query.
        customer = selectors.customer_summary(pk)
    except Customer.DoesNotExist:
        raise Http404("No such customer.") from None
    documents = CustomerDocumentTable(
        selectors.customer_documents(customer), template_name=TABLE_TEMPLATE
    )
    RequestConfig(request, paginate={"per_page": 25}).configure(documents)
    cell_attrs_once(documents)
    return TemplateResponse(
        request,
        "customers/customer_detail.html",
        {
            "customer": customer,
            "ar_balance": customer.ar_balance,
            "open_count": customer.open_count,
            "documents": documents,
            "deposits_held": customer.deposits_held,
            "deposits": selectors.customer_deposits(customer)[:50],
        },
    )
