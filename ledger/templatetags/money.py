"""`{{ amount|money }}`: amounts shown the one way ledger/ACCOUNTING.md prescribes."""

import uuid

from django import template
from django.utils.html import format_html

from ledger.money import format_money

register = template.Library()


@register.filter
def money(value):
    return format_money(value)


@register.simple_tag
def one_time_key():
    """A hidden one-time key for a state-changing form (ledger.idempotency): a re-sent or
    double-clicked form is done once."""
    return format_html('<input type="hidden" name="key" value="{}">', uuid.uuid4().hex)
