"""Applying credits to invoices (Apply Credit) and removing applications. Every
application goes through `_apply_locked`, on rows the caller locked; how amounts are
spread is invoicing.allocator's."""

import datetime
import uuid
from dataclasses import replace

from django.utils import timezone

from config.roles import Action
from invoicing import allocator
from invoicing.allocator import Allocation
from invoicing.exceptions import InvoicingError, OverApplication
from invoicing.models import Application, ApplicationBatch, ApplicationOrigin, Document
from invoicing.policies import Act, enforce
from invoicing.services.base import (
    _lock_in_order,
    _new_batch,
    _set_balances,
    audit,
    check_removal,
    clean_allocations,
    mark_removed,
    service,
)
from ledger.idempotency import Claim
from ledger.money import ZERO
from ledger.services import AuditAction, check_business_date


def _batch_applications(application: Application | None) -> list[Application]:
    if application is None:
        return []
    return list(Application.objects.filter(batch_id=application.batch_id).order_by("pk"))


def _claim_batch(by, key: str, kwargs) -> Claim:
    """Apply Credit's claim: the form key, the batch row and the ids of its applications
    in one statement (PostgreSQL), so the key names its first application at once."""
    count = sum(1 for a in kwargs.get("allocations") or () if a.amount)
    batch = ApplicationBatch(key=key or uuid.uuid4().hex, created_by=by)
    return Claim(result=Application, reserve=count, row=batch)


@service(
    "credit_apply",
    needs=Action.APPLY_CREDIT,
    clean={"allocations": clean_allocations},
    claim=_claim_batch,
    store=lambda applications: applications[0] if applications else None,
    load=_batch_applications,
)
def credit_apply(
    *,
    source: Document,
    allocations: list[Allocation],
    by,
    date: datetime.date | None = None,
    key: str = "",
    claim: Claim | None = None,
) -> list[Application]:
    """Apply one open item to others of the opposite sign, all rows in one transaction.

    `source` may be the credit (allocations go to invoices) or the invoice (allocations come
    from credits). Each allocation may not exceed what the other document can use, and
    together they may not exceed what the source can. `key` makes a re-sent form apply once.

    A constant number of statements however many rows (PostgreSQL): the key claim with
    the batch, one locking SELECT (ids ascending, with the books-closed date), one INSERT
    of the applications, one UPDATE of the balances, one audit row.
    """
    date = date or timezone.localdate()
    allocations = [a for a in allocations if a.amount]
    if not allocations:
        raise InvoicingError(
            "Enter an amount to apply on at least one row.", code="nothing_to_apply"
        )
    docs = _lock_in_order([source.pk, *(a.document.pk for a in allocations)], with_closed=True)
    source = docs[source.pk]
    enforce(by, Act.APPLY, source)
    check_business_date(date, what="The application date", closed=source.books_closed)
    allocations = [replace(a, document=docs[a.document.pk]) for a in allocations]
    if claim is None:
        claim = Claim(row=_new_batch(by, key))
    return _apply_locked(
        source=source, allocations=allocations, by=by, date=date, batch=claim.row, ids=claim.ids
    )


def _apply_locked(
    *,
    source: Document,
    allocations: list[Allocation],
    by,
    date: datetime.date,
    origin: str = ApplicationOrigin.MANUAL,
    batch: ApplicationBatch | None = None,
    ids=(),
) -> list[Application]:
    """Check and write applications between documents the caller has locked (a new
    batch unless one is given), in a fixed number of statements: one INSERT of the
    applications (numbered `ids` when the caller reserved one per allocation), one
    UPDATE of the balances, one audit row."""
    errors = allocator.check(
        allocations=allocations,
        available=allocator.usable(source),
        source_label=source.number,
        customer_id=source.customer_id,
        targets_are_invoices=source.balance_due < 0,
        date=date,
        system=origin != ApplicationOrigin.MANUAL,
    )
    if any(a.document.pk == source.pk for a in allocations):
        errors["__all__"] = [f"{source.number} can't be applied to itself."]
    if date < source.date:
        errors["date"] = [
            f"The application date can't be before {source.number}'s date ({source.date:%m/%d/%Y})."
        ]
    if errors:
        raise OverApplication(errors, code="over_application")
    batch = batch or _new_batch(by)
    numbered = iter(ids) if len(ids) == len(allocations) else None
    applications = []
    for allocation in allocations:
        other = allocation.document
        target, used = (source, other) if source.balance_due > 0 else (other, source)
        applications.append(
            Application(
                pk=next(numbered) if numbered else None,
                customer_id=source.customer_id,
                target=target,
                source=used,
                amount=allocation.amount,
                date=date,
                origin=origin,
                batch=batch,
                created_by=by,
            )
        )
    for application in applications:
        application.target.balance_due -= application.amount
        application.source.balance_due += application.amount
    Application.objects.bulk_create(applications)
    _set_balances([source, *(a.document for a in allocations)])
    audit(
        by,
        AuditAction.CREDIT_APPLIED,
        source,
        sum((a.amount for a in allocations), ZERO),
        date=date.isoformat(),
        origin=origin,
        to={a.document.number: str(a.amount) for a in allocations},
    )
    return applications


@service("credit_unapply", needs=Action.APPLY_CREDIT)
def credit_unapply(*, application: Application, by, date: datetime.date | None = None):
    """Remove an application a person made: both open amounts are restored; the row stays
    as history. Applications the system made are undone by reversing what made them."""
    return _credit_unapply(application, by, date)


def _credit_unapply(application, by, date, *, system: bool = False) -> Application:
    date = date or timezone.localdate()
    docs = _lock_in_order([application.target_id, application.source_id])
    application = Application.objects.select_for_update().get(pk=application.pk)
    check_removal(application, by, date, system=system, act=Act.UNAPPLY)
    target, source = docs[application.target_id], docs[application.source_id]
    target.balance_due += application.amount
    source.balance_due -= application.amount
    _set_balances([target, source])
    mark_removed(application, by, date)
    audit(
        by,
        AuditAction.CREDIT_UNAPPLIED,
        source,
        application.amount,
        invoice=target.number,
        application=application.pk,
    )
    return application
