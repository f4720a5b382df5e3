"""The one policy: may this user do this to this document (or deposit, refund, application)
now — and if not, why not.

Every service calls `enforce()` on the rows it has locked, so a refused action is refused
whatever URL or caller asked; views call `decide()` to answer 404/403/message before any
work; templates draw their buttons from `actions_for()`. The table "What may happen to a
document" in ledger/ACCOUNTING.md is this module.

Just over 400 lines on purpose: every rule about who may act on what stays in this one
file, so a reader finds all of them in one place.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models

from config.roles import Action, refusal, require, user_may
from invoicing.exceptions import InvoicingError
from invoicing.models import (
    Application,
    ApplicationOrigin,
    Deposit,
    DepositApplication,
    DepositRefund,
    Document,
    DocumentKind,
    DocumentStatus,
    PaymentMethod,
)
from invoicing.selectors.open_items import refund_source

# Each act: its name, its value, its label ("You can't <label> …") and the role it needs
# (config.roles answers who holds it).
_ACTS = [
    ("EDIT", "edit", "edit", Action.EDIT_DRAFTS),
    ("CANCEL", "cancel", "cancel the draft", Action.EDIT_DRAFTS),
    ("POST", "post", "post", Action.POST),
    ("VOID", "void", "void", Action.VOID),
    ("APPLY", "apply", "apply", Action.APPLY_CREDIT),
    ("UNAPPLY", "unapply", "unapply", Action.APPLY_CREDIT),
    ("PAYMENT", "payment", "take a payment on", Action.EDIT_DRAFTS),
    ("REFUND", "refund", "refund", Action.EDIT_DRAFTS),
    ("RELEASE", "release", "release", Action.RELEASE_REFUND),
    ("CANCEL_REFUND", "cancel_refund", "cancel the refund", Action.EDIT_DRAFTS),
    ("REVERSE_REFUND", "reverse_refund", "reverse the refund", Action.RELEASE_REFUND),
    ("CREDIT_MEMO", "credit_memo", "create a credit memo from", Action.EDIT_DRAFTS),
    ("APPLY_DEPOSIT", "apply_deposit", "apply a deposit to", Action.APPLY_CREDIT),
    ("SEND", "send", "send", Action.EDIT_DRAFTS),
]
Act = models.TextChoices("Act", [(name, (value, label)) for name, value, label, _ in _ACTS])
ROLE_FOR: dict[Act, Action] = {Act(value): role for _, value, _, role in _ACTS}

# Acts that make no sense for a kind of object at all: a URL asking for them is a 404.
_DOCUMENT_ACTS = {
    DocumentKind.INVOICE: {
        Act.EDIT,
        Act.CANCEL,
        Act.POST,
        Act.VOID,
        Act.APPLY,
        Act.PAYMENT,
        Act.REFUND,
        Act.CREDIT_MEMO,
        Act.APPLY_DEPOSIT,
        Act.SEND,
    },
    DocumentKind.CREDIT_MEMO: {
        Act.EDIT,
        Act.CANCEL,
        Act.POST,
        Act.VOID,
        Act.APPLY,
        Act.REFUND,
        Act.SEND,
    },
    DocumentKind.PAYMENT: {Act.CANCEL, Act.POST, Act.VOID, Act.APPLY, Act.REFUND, Act.SEND},
    DocumentKind.REFUND: {Act.RELEASE, Act.CANCEL_REFUND, Act.REVERSE_REFUND, Act.SEND},
}
_DEPOSIT_ACTS = {Act.CANCEL, Act.POST, Act.VOID, Act.APPLY_DEPOSIT, Act.REFUND, Act.SEND}
_DEPOSIT_REFUND_ACTS = {Act.RELEASE, Act.CANCEL_REFUND, Act.REVERSE_REFUND}
_APPLICATION_ACTS = {Act.UNAPPLY}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    # The act doesn't exist for this kind of object (404), or the user's role lacks it (403).
    not_applicable: bool = False
    forbidden: bool = False

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True)


def _no(reason: str) -> Decision:
    return Decision(False, reason)


def _applicable(act: Act, obj) -> bool:
    if isinstance(obj, Document):
        return act in _DOCUMENT_ACTS.get(obj.kind, set())
    if isinstance(obj, Deposit):
        return act in _DEPOSIT_ACTS
    if isinstance(obj, DepositRefund):
        return act in _DEPOSIT_REFUND_ACTS
    if isinstance(obj, Application | DepositApplication):
        return act in _APPLICATION_ACTS
    return False


def _label(obj) -> str:
    if isinstance(obj, Document):
        return f"{obj.title} {obj.number}"
    if isinstance(obj, DepositRefund):
        return f"the refund of {obj.deposit.number}"
    return str(obj)


def decide(user, act: Act, obj) -> Decision:
    """May `user` do `act` to `obj` now? Reads `obj` as given: services pass rows they have
    locked, so the answer holds until they commit."""
    act = Act(act)
    if not _applicable(act, obj):
        return Decision(False, f"You can't {act.label} {_label(obj)}.", not_applicable=True)
    role = ROLE_FOR[act]
    if act == Act.CANCEL_REFUND:
        # The preparer may take back their own pending refund; any Poster may cancel one.
        if not (user_may(user, Action.RELEASE_REFUND) or _prepared_by(obj, user)):
            return Decision(
                False,
                "Only the person who prepared this refund or a Poster can cancel it.",
                forbidden=True,
            )
    elif not user_may(user, role):
        return Decision(False, refusal(role, f"{act.label} {_label(obj)}"), forbidden=True)
    if act == Act.SEND:
        return _send(obj)
    if isinstance(obj, Document):
        return _document(user, act, obj)
    if isinstance(obj, Deposit):
        return _deposit(act, obj)
    if isinstance(obj, DepositRefund):
        return _refund_state(user, act, obj.status, obj.created_by_id, _deposit_refund_reverse(obj))
    return _application(obj)


def enforce(user, act: Act, obj) -> None:
    """Raise what `decide` refuses: PermissionDenied for a missing role, InvoicingError with
    the reason otherwise. Every service calls this on the rows it locked."""
    decision = decide(user, act, obj)
    if decision.forbidden:
        raise PermissionDenied(decision.reason)
    if not decision.allowed:
        raise InvoicingError(decision.reason, code="not_allowed")


def actions_for(user, obj) -> dict[str, bool]:
    """{act: allowed} for a page's buttons, and what else the page offers:
    `open_void` (documents) and `preview_posting` (deposits)."""
    decisions = {act: decide(user, act, obj) for act in Act}
    acts = {act.value: decision.allowed for act, decision in decisions.items()}
    if isinstance(obj, Document):
        acts["open_void"] = opens_void_page(obj, decisions[Act.VOID])
    if isinstance(obj, Deposit):
        acts["preview_posting"] = obj.status == DocumentStatus.DRAFT
    return acts


def opens_void_page(doc: Document, void: Decision) -> bool:
    """The Void page opens for a posted document the user may void even while something
    blocks the void (`void` is the policy's answer): the page says what "Unapply all and
    void" undoes, or why it can't."""
    return doc.is_posted and not (void.not_applicable or void.forbidden)


def require_drafting(user) -> None:
    """New invoices, credit memos, payments and deposits start as drafts: making one (or
    opening an editor) needs the role that edits drafts; PermissionDenied otherwise."""
    require(user, ROLE_FOR[Act.EDIT])


def may_send_statements(user) -> bool:
    """Customer statements are emailed (one, or "Send statements" for many) by whoever may
    send documents (the role of `Act.SEND`); anyone with a role may view and print them."""
    return user_may(user, ROLE_FOR[Act.SEND])


def require_statement_sending(user) -> None:
    """Refuse (403) a user who may not email statements."""
    require(user, ROLE_FOR[Act.SEND])


def may_post(user) -> bool:
    """Whether the user holds the role that posts (what they record is posted at once)."""
    return user_may(user, ROLE_FOR[Act.POST])


def edits_from_invoice(doc: Document) -> bool:
    """A credit memo made from an invoice's lines is edited as that (quantities per line),
    not in the free-form draft editor."""
    return doc.kind == DocumentKind.CREDIT_MEMO and bool(doc.source_invoice_id)


def _prepared_by(obj, user) -> bool:
    return getattr(obj, "created_by_id", None) == getattr(user, "pk", None)


# --- documents --------------------------------------------------------------------------


def _document(user, act: Act, doc: Document) -> Decision:
    if doc.kind == DocumentKind.REFUND:
        return _refund_state(user, act, doc.status, doc.created_by_id, _refund_reverse(doc))
    draft, posted = doc.status == DocumentStatus.DRAFT, doc.status == DocumentStatus.POSTED
    name = f"{doc.title} {doc.number}"
    if act in (Act.EDIT, Act.CANCEL, Act.POST):
        if not draft:
            state = "posted" if posted else "void"
            if act == Act.EDIT and posted and not doc.is_money:
                from invoicing.exceptions import POSTED_LOCKED_MESSAGE

                if doc.is_credit:
                    return _no("Posted credit memos can't be changed — void it and make a new one.")
                return _no(POSTED_LOCKED_MESSAGE)
            if act == Act.POST:
                return _no(f"{doc.number} is already {state}.")
            return _no(f"{name} is {state}; only a draft can be {_past(act)}.")
        if act == Act.CANCEL:
            pending = _pending_refunds_through(doc)
            if pending:
                return _no(f"{name} has pending refunds ({pending}); cancel them first.")
        if act in (Act.EDIT, Act.CANCEL):
            memos = _live_memo_numbers(doc)
            if memos:
                return _no(
                    f"{doc.number} has credit memos ({memos}); void or cancel them before you "
                    f"{'change' if act == Act.EDIT else 'cancel'} it."
                )
        return ALLOWED
    if act == Act.VOID:
        if not posted:
            return _no(f"{name} is {'a draft; cancel it instead' if draft else 'already void'}.")
        blockers = void_blockers(doc)
        if blockers:
            return _no(f"{name} can't be voided while {'; '.join(blockers)}.")
        return ALLOWED
    if act == Act.APPLY:
        if not posted:
            return _no(f"{name} isn't posted; only posted documents can be applied.")
        if doc.balance_due == 0 or doc.usable <= 0:
            return _no(f"{name} has nothing open to apply.")
        return ALLOWED
    if act == Act.PAYMENT:
        if doc.is_credit or doc.status == DocumentStatus.VOID or doc.display_balance <= 0:
            return _no(f"{doc.number} has no balance to pay.")
        return ALLOWED
    if act == Act.REFUND:
        credit, amount = refund_source(doc)
        if credit is None or amount <= 0:
            return _no(f"{doc.number} has no open credit to refund.")
        return ALLOWED
    if act == Act.CREDIT_MEMO:
        # Only from a posted invoice: a memo of a draft would credit a sale not yet booked,
        # and its lines would pin the draft's lines (editing the draft failed).
        if doc.is_credit or not posted:
            state = "a credit" if doc.is_credit else ("a draft" if draft else "void")
            return _no(f"Credit memos are made from posted invoices; {doc.number} is {state}.")
        return ALLOWED
    if act == Act.APPLY_DEPOSIT:
        if not posted or doc.is_credit or doc.balance_due <= 0:
            return _no(f"{doc.number} has no open balance to pay.")
        return ALLOWED
    return _no(f"You can't {act.label} {name}.")  # pragma: no cover - _applicable filters


def _past(act: Act) -> str:
    return {Act.EDIT: "changed", Act.CANCEL: "cancelled", Act.POST: "posted"}[act]


def _known(doc, name: str):
    """What a page already read about `doc` and set on it (`tied_documents`, every
    document tied to it; `known_applications`, `known_deposit_applications`, all of its
    applications), or None — a service's freshly locked row has none, so the policy asks
    the database as before. A page answers its buttons without a query per rule."""
    return getattr(doc, name, None)


def _tied(doc, **match) -> list[str] | None:
    """Numbers of the already-read documents tied to `doc` with these attribute values,
    newest first (the model's ordering); None when the page read none."""
    tied = _known(doc, "tied_documents")
    if tied is None:
        return None
    rows = [d for d in tied if all(getattr(d, k) == v for k, v in match.items())]
    return [d.number for d in sorted(rows, key=lambda d: (d.date, d.pk), reverse=True)]


def _live_memo_numbers(doc: Document) -> str:
    if doc.kind != DocumentKind.INVOICE or not doc.pk:
        return ""
    numbers = _tied(doc, source_invoice_id=doc.pk)
    if numbers is not None:
        tied = {d.number: d for d in _known(doc, "tied_documents")}
        numbers = [n for n in numbers if tied[n].status != DocumentStatus.VOID]
    else:
        numbers = doc.credit_memos.exclude(status=DocumentStatus.VOID).values_list(
            "number", flat=True
        )
    return ", ".join(numbers)


def _pending_refunds_through(doc: Document) -> str:
    numbers = _tied(
        doc, kind=DocumentKind.REFUND, status=DocumentStatus.DRAFT, prepared_on_id=doc.pk
    )
    if numbers is None:
        numbers = Document.objects.filter(
            kind=DocumentKind.REFUND, status=DocumentStatus.DRAFT, prepared_on=doc
        ).values_list("number", flat=True)
    return ", ".join(numbers)


def void_blockers(doc: Document) -> list[str]:
    """What must be undone before `doc` can be voided, in words that name it."""
    blockers = []
    memos = _live_memo_numbers(doc)
    if memos:
        blockers.append(f"it has credit memos ({memos}) — void or cancel them first")
    apps = _known(doc, "known_applications")
    if apps is not None:
        apps = [a for a in apps if a.removed_at is None]
    else:
        apps = Application.objects.filter(
            models.Q(target=doc) | models.Q(source=doc), removed_at__isnull=True
        ).select_related("target", "source")
    refunds = [a for a in apps if a.origin == ApplicationOrigin.REFUND]
    others = [a for a in apps if a.origin != ApplicationOrigin.REFUND]
    if refunds:
        numbers = ", ".join(
            a.target.number if a.target_id != doc.pk else a.source.number for a in refunds
        )
        blockers.append(f"refunds were released from it ({numbers}) — reverse them first")
    if others:
        numbers = ", ".join(
            a.source.number if a.target_id == doc.pk else a.target.number for a in others
        )
        blockers.append(f"it is applied with {numbers} — unapply first")
    deposit_apps = _known(doc, "known_deposit_applications")
    if deposit_apps is not None:
        deposit_apps = [a for a in deposit_apps if a.removed_at is None]
    else:
        deposit_apps = doc.deposit_applications.filter(removed_at__isnull=True).select_related(
            "deposit"
        )
    if deposit_apps:
        numbers = ", ".join(a.deposit.number for a in deposit_apps)
        blockers.append(f"deposits are applied to it ({numbers}) — unapply them first")
    pending = _tied(doc, kind=DocumentKind.REFUND, status=DocumentStatus.DRAFT, refund_of_id=doc.pk)
    if pending is None:
        pending = Document.objects.filter(
            kind=DocumentKind.REFUND, status=DocumentStatus.DRAFT, refund_of=doc
        ).values_list("number", flat=True)
    if pending or doc.reserved:
        blockers.append(
            f"refunds are pending ({', '.join(pending) or 'reserved'}) — release or cancel them first"
        )
    if not blockers and doc.balance_due != doc.grand_total:
        blockers.append("part of it is applied or refunded")
    return blockers


def _send(obj: Document | Deposit) -> Decision:
    """A document or deposit goes to its customer (email, print) once posted — a refund
    once released — and never as a draft or after it was voided."""
    if obj.status == DocumentStatus.POSTED:
        return ALLOWED
    name = f"{obj.title} {obj.number}" if isinstance(obj, Document) else obj.number
    if obj.status == DocumentStatus.VOID:
        return _no(f"{name} is void; only posted documents are sent to customers.")
    return _no(f"{name} isn't posted; only posted documents are sent to customers.")


# --- refunds (of credits and of deposits) ----------------------------------------------------


def _refund_state(user, act: Act, status: str, preparer_id, reverse_block: str) -> Decision:
    if act in (Act.RELEASE, Act.CANCEL_REFUND):
        if status != DocumentStatus.DRAFT:
            label = "released" if status == DocumentStatus.POSTED else "cancelled"
            return _no(f"That refund is already {label}.")
        if act == Act.RELEASE and settings.REFUND_FOUR_EYES and preparer_id == user.pk:
            return _no("You prepared this refund; another Poster must release it (four eyes).")
        return ALLOWED
    if act == Act.REVERSE_REFUND:
        if status != DocumentStatus.POSTED:
            return _no("Only a released refund can be reversed.")
        if reverse_block:
            return _no(reverse_block)
        return ALLOWED
    return _no("Refunds are released or cancelled, not changed.")


def _refund_reverse(refund: Document) -> str:
    if refund.method != PaymentMethod.STORE_CREDIT:
        return ""
    deposit = Deposit.objects.filter(source_refund=refund).first()
    if deposit is not None and (deposit.remaining != deposit.amount or deposit.reserved):
        return (
            f"The store credit {deposit.number} it created has been used; "
            f"unapply or cancel what uses {deposit.number} first."
        )
    return ""


def _deposit_refund_reverse(refund: DepositRefund) -> str:
    return ""


# --- deposits and applications -------------------------------------------------------------


def _deposit(act: Act, deposit: Deposit) -> Decision:
    draft = deposit.status == DocumentStatus.DRAFT
    posted = deposit.status == DocumentStatus.POSTED
    if act in (Act.CANCEL, Act.POST):
        if not draft:
            return _no(f"{deposit.number} is already {deposit.get_status_display().lower()}.")
        return ALLOWED
    if act == Act.VOID:
        if not posted:
            return _no(f"{deposit.number} isn't posted.")
        if deposit.source_refund_id:
            return _no(
                f"{deposit.number} is store credit from {deposit.source_refund.number}; "
                "reverse that refund instead."
            )
        if deposit.remaining != deposit.amount or deposit.reserved:
            return _no(
                f"{deposit.number} can't be voided while it is applied, refunded or has a "
                "pending refund — unapply or cancel those first."
            )
        return ALLOWED
    if act in (Act.APPLY_DEPOSIT, Act.REFUND):
        if not posted:
            return _no(f"{deposit.number} isn't posted yet; a Poster posts it first.")
        if deposit.usable <= 0:
            return _no(f"{deposit.number} has nothing left to use.")
        return ALLOWED
    return _no(f"You can't {act.label} {deposit.number}.")  # pragma: no cover


def _application(app) -> Decision:
    if app.removed_at is not None:
        return _no("That application was already removed.")
    origin = getattr(app, "origin", ApplicationOrigin.MANUAL)
    if origin == ApplicationOrigin.REFUND:
        return _no(
            f"This application was made by releasing refund {app.target.number}; "
            "reverse that refund instead."
        )
    if origin == ApplicationOrigin.EARMARK:
        return _no(
            f"This application was made when {app.target.number} was posted with the payment "
            f"taken on it; void {app.target.number} (Unapply all and void) to undo it."
        )
    return ALLOWED
