"""The PDF of an issued document, frozen as first rendered: `frozen_pdf` renders a posted
Document (or one voided after it was posted) or Deposit once, keeps the bytes through
Django's default storage with their SHA-256, and returns that same row ever after;
`frozen_pdf_bytes` reads them back and checks the hash. Every later download and every
email attachment is those exact bytes.

Imports no other services module.
"""

import hashlib

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction

from config.roles import Action, require
from invoicing.exceptions import InvoicingError
from invoicing.models import Deposit, Document, FrozenPDF
from invoicing.printing import render_pdf


class FrozenPDFMismatch(InvoicingError):
    """The stored file of a frozen PDF is missing or no longer has its recorded SHA-256."""


def _subject(obj) -> dict:
    return {"deposit": obj} if isinstance(obj, Deposit) else {"document": obj}


def _existing(obj) -> FrozenPDF | None:
    return FrozenPDF.objects.filter(**_subject(obj)).first()


def frozen_pdf(obj: Document | Deposit, *, by) -> FrozenPDF:
    """The frozen PDF of issued `obj`, rendered and stored on its first request. Two first
    requests at once make one: the document's (or deposit's) row is locked, the check
    repeated, and the file saved and the row written in the same transaction."""
    require(by, Action.VIEW)
    found = _existing(obj)
    if found is not None:
        return found
    with transaction.atomic():
        locked = type(obj).objects.select_for_update().get(pk=obj.pk)
        if not locked.is_issued:
            raise ValidationError(
                f"{locked.number} hasn't been posted; only issued documents have a frozen PDF.",
                code="not_issued",
            )
        found = _existing(locked)
        if found is not None:
            return found
        data = render_pdf(locked)
        frozen = FrozenPDF(
            **_subject(locked),
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            rendered_by=by,
        )
        frozen.file.save(f"{locked.number}.pdf", ContentFile(data), save=False)
        try:
            frozen.save()
        except BaseException:
            frozen.file.storage.delete(frozen.file.name)  # no file without its row
            raise
    return frozen


def read_frozen(frozen: FrozenPDF) -> bytes:
    """The stored bytes of `frozen`, checked against its SHA-256."""
    try:
        with frozen.file.storage.open(frozen.file.name, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FrozenPDFMismatch(
            f"The stored PDF {frozen.file.name} is missing.", code="frozen_missing"
        ) from None
    if hashlib.sha256(data).hexdigest() != frozen.sha256:
        raise FrozenPDFMismatch(
            f"The stored PDF {frozen.file.name} no longer matches its SHA-256 {frozen.sha256}.",
            code="frozen_mismatch",
        )
    return data


def frozen_pdf_bytes(obj: Document | Deposit, *, by) -> tuple[bytes, str]:
    """(bytes, sha256) of the frozen PDF of issued `obj` (frozen now if it wasn't yet),
    read from storage; raises FrozenPDFMismatch when the file no longer matches."""
    frozen = frozen_pdf(obj, by=by)
    return read_frozen(frozen), frozen.sha256
