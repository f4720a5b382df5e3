"""Reads of customers. The list with A/R balances is invoicing's (invoicing.selectors.customer_list).

Finding a customer by what someone types (a code or part of a name) lives here too: the
autocomplete's suggestions (`customer_search`) and the filter every listing applies to
its rows' customer (`customer_match_q`), so both read the text the same way.
"""

from django.db.models import Case, IntegerField, Q, Value, When

from customers.models import Customer

# How many suggestions the autocomplete offers; typing more narrows them.
SEARCH_LIMIT = 20


def customer_get(pk: int) -> Customer:
    return Customer.objects.select_related("created_by", "updated_by").get(pk=pk)


def customer_search(text: str, *, limit: int = SEARCH_LIMIT) -> list[Customer]:
    """Up to `limit` + 1 customers matching `text` (the extra one says "there are more"):
    the exact code first, then codes starting with it, then names containing it, by name.
    One query; nothing for blank text."""
    text = text.strip()
    if not text:
        return []
    rank = Case(
        When(code__iexact=text, then=Value(0)),
        When(code__istartswith=text, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    rows = (
        Customer.objects.filter(Q(code__istartswith=text) | Q(name__icontains=text))
        .annotate(rank=rank)
        .order_by("rank", "name", "pk")
        .only("pk", "code", "name", "is_active")
    )
    return list(rows[: limit + 1])


def customer_match_q(text: str, field: str = "customer") -> Q:
    """A filter on rows whose `field` (a foreign key to Customer) is the customer typed:
    the exact code, a name containing the text, or — for links that name a customer by
    id (`?customer=12`) — that id. Adds no query of its own (it joins)."""
    text = text.strip()
    match = Q(**{f"{field}__code__iexact": text}) | Q(**{f"{field}__name__icontains": text})
    if text.isdigit():
        match |= Q(**{f"{field}_id": int(text)})
    return match


def customer_named(text: str) -> Customer | None:
    """The one customer `text` names exactly — its id (links: `?customer=12`) or its code
    (what the autocomplete puts in the field) — or None."""
    text = text.strip()
    if not text:
        return None
    rows = Customer.objects.filter(code__iexact=text)
    if text.isdigit():
        rows = Customer.objects.filter(pk=int(text)) | rows
    found = list(rows.order_by("pk")[:1])
    return found[0] if found else None
