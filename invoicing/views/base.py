"""What every invoicing view shares: fetching the object of a URL, the policy's answer for a
page, re-sent forms (double clicks), running a service from a form or a POST button, and the
customer a "New …" page is for.

Views parse input with a form, call one service and render; htmx requests get the fragment
of the same template (`template#partial`).
"""

import functools

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from customers import selectors as customer_selectors
from customers.models import Customer
from customers.widgets import CustomerSearchInput
from invoicing import selectors
from invoicing.models import Deposit, DepositRefund, Document
from invoicing.policies import decide, require_drafting
from ledger.idempotency import first_result, was_used

# --- the object of a URL ------------------------------------------------------------------


def _get_document(pk) -> Document:
    try:
        return selectors.document_get(pk)
    except Document.DoesNotExist:
        raise Http404("No such document.") from None


def _get_deposit(pk) -> Deposit:
    try:
        return selectors.deposit_get(pk)
    except Deposit.DoesNotExist:
        raise Http404("No such deposit.") from None


def _get_deposit_refund(pk) -> DepositRefund:
    return get_object_or_404(DepositRefund.objects.select_related("deposit"), pk=pk)


def _customer_from_query(request) -> Customer | None:
    """The customer of `?customer=<pk>` (a "New …" button on the customer's page) or
    `?customer=<code>` (the customer autocomplete), or None."""
    return customer_selectors.customer_named(request.GET.get("customer", "")[:100])


def _for_customer(**pick_context):
    """Decorator of a page that records money from a customer, `view(request, customer)`:
    the role that makes drafts (403), and the customer of `?customer=<pk>` — without one,
    the page that asks which customer it is from."""

    def decorate(view):
        @functools.wraps(view)
        def page(request):
            require_drafting(request.user)
            customer = _customer_from_query(request)
            if customer is not None:
                return view(request, customer)
            # Which customer: the autocomplete, never a list of every customer.
            typed = request.GET.get("customer", "").strip()
            field = CustomerSearchInput(attrs={"id": "id_customer", "required": True})
            context = {
                "customer_field": field.render("customer", typed),
                "not_found": typed,
                **pick_context,
            }
            return TemplateResponse(request, "invoicing/payment_pick_customer.html", context)

        return page

    return decorate


# --- the policy's answer for a page --------------------------------------------------------


def _raise_for(decision) -> None:
    """404 for an act that doesn't exist for this kind of object, 403 for a missing role."""
    if decision.not_applicable:
        raise Http404(decision.reason)
    if decision.forbidden:
        raise PermissionDenied(decision.reason)


def _refused_kind(request, act, obj) -> None:
    """The policy's 404 or 403 for `act` on `obj`; state is left to the service, which
    answers with its message."""
    _raise_for(decide(request.user, act, obj))


def _refused(request, act, obj, target=None):
    """The policy's answer for a page: None when `act` is allowed; a 404 when the act
    doesn't exist for this kind of object; a 403 when the role lacks it; otherwise the
    reason as a message and back to the object."""
    decision = decide(request.user, act, obj)
    if decision.allowed:
        return None
    _raise_for(decision)
    messages.error(request, decision.reason)
    return redirect(target or obj)


# --- re-sent forms ---------------------------------------------------------------------------


def _resent(request) -> bool:
    """A POST whose one-time key was already used: a double click or a re-sent form."""
    return request.method == "POST" and was_used(request.POST.get("key", ""))


def _first_result(request, scope: str):
    """What the request that first used this form's key produced; None (with the reason as
    a message) when the key was used for something else."""
    try:
        result = first_result(request.POST.get("key", ""), scope=scope, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return None
    if result is None:
        messages.error(request, "That form was already used; reload the page and try again.")
    return result


def _answer_resent(request, scope: str, message, target=None, *, quiet=False):
    """A double click or a re-sent form: answer as the first request did — `message(result)`
    and a redirect to `target` (or to what it made); nothing more is done. None for a fresh
    key. A first result that can't be found sends back to `target` with the reason, or,
    when `quiet`, returns None: the caller carries on and the service says what is wrong."""
    if not _resent(request):
        return None
    if quiet:
        try:
            result = first_result(request.POST["key"], scope=scope, by=request.user)
        except ValidationError:
            result = None  # the key was used for something else: the service says so
        if result is None:
            return None
    else:
        result = _first_result(request, scope)
        if result is None:
            return redirect(target)
    messages.success(request, message(result))
    return redirect(target or result)


def _answer_or_refuse(request, act, obj, scope, message, target=None, *, quiet=False):
    """The start of a form page on `obj`: a re-sent form (of `scope`; None: not looked for)
    answered as the first one was (`_answer_resent`), else the policy's refusal of `act`
    (`_refused`); None to go on."""
    if scope is not None:
        answer = _answer_resent(request, scope, message, target, quiet=quiet)
        if answer is not None:
            return answer
    return _refused(request, act, obj)


# --- running a service -----------------------------------------------------------------------


def _add_service_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _submit(request, form, call, message=None):
    """Run `call()` (one service call with the form's data): its result, with
    `message(result)` as a success message; None with the service's errors on the form."""
    try:
        result = call()
    except ValidationError as exc:
        _add_service_errors(form, exc)
        return None
    if message is not None:
        messages.success(request, message(result))
    return result


def _form_page(request, template, context, *, sent: bool):
    """A form page: 400 when a sent form comes back (with its errors), 200 otherwise."""
    return TemplateResponse(request, template, context, status=400 if sent else 200)


def _act(request, service, success: str, target, **objects):
    """Run one service call from a POST button (`service(**objects, by=…, key=…)`): its
    message on success, its errors as messages otherwise, and back to `target` either way."""
    try:
        service(by=request.user, key=request.POST.get("key", ""), **objects)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, success)
    return redirect(target)


def _button(get, service, field: str, message: str, *, act=None, target=None):
    """The view of a POST-only button on one object: fetch it with `get(pk)`, check `act`
    with the policy (404/403; state is the service's), run `service(<field>=obj)` and go
    back to the object (or `target(obj)`). `message` is formatted with `obj`."""

    @require_POST
    def view(request, pk):
        obj = get(pk)
        if act is not None:
            _refused_kind(request, act, obj)
        back = target(obj) if target else obj
        return _act(request, service, message.format(obj=obj), back, **{field: obj})

    return view
