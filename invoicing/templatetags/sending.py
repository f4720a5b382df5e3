"""`{% sends_of obj as sends %}`: every send of a document or deposit, for
templates/invoicing/_sends.html (so the pages that show it need no view change)."""

from django import template

from invoicing import selectors

register = template.Library()


@register.simple_tag
def sends_of(obj):
    return list(selectors.sends_for(obj))
