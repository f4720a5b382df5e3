"""`{{ amount|money }}`: amounts shown the one way accounting.md prescribes."""

from django import template

from ledger.money import format_money

register = template.Library()


@register.filter
def money(value):
    return format_money(value)
