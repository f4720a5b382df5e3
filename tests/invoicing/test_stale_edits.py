"""No lost updates on drafts (issue 10, item 11): two people open the same draft invoice or
credit memo, the first saves, and the second save, based on what it loaded before, is
refused with "Changed by <user> at <time> since you opened it", keeps what was typed, saves
nothing and offers to reload. A `version` column on Document, sent back by the forms as a
hidden field, is checked and bumped in the same conditional UPDATE."""

import datetime
import html
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import dateformat, timezone

from invoicing import services
from invoicing.exceptions import StaleEdit
from invoicing.models import Document, DocumentKind
from ledger.models import AuditEvent
from tests.factories import CustomerFactory, line, make_invoice, make_user
from tests.helpers import client_for
from tests.html_forms import form_data
from tests.invoicing.books import (  # noqa: F401
    books_stay_balanced,
    fast_password_hashing,
    ledger_problems,
    reference_data,
)

D = Decimal

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


def changed_by(document: Document) -> str:
    """The refusal's wording, for the document's last save."""
    document.refresh_from_db()
    when = dateformat.format(timezone.localtime(document.updated_at), "m/d/Y H:i")
    return f"Changed by {document.updated_by} at {when} since you opened it."


def quantities(document: Document) -> list[Decimal]:
    return [ln.quantity for ln in document.lines.order_by("position")]


# --- the invoice editor --------------------------------------------------------------------


@pytest.mark.usefixtures("books_stay_balanced")
def test_second_save_of_a_draft_invoice_is_refused_and_keeps_what_was_typed(alice, bob):
    """Alice and Bob open the same draft; Alice saves; Bob's save, based on the page he
    loaded before, answers 409 with "Changed by alice at … since you opened it", shows his
    own input again, links to the fresh editor, and saves nothing of his."""
    customer = CustomerFactory()
    draft = make_invoice(customer=customer, by=alice, lines=[line("PRT", "1", "100.00")])
    url = reverse("invoicing:edit", args=[draft.pk])
    a, b = client_for(alice), client_for(bob)
    page_a, page_b = a.get(url), b.get(url)
    assert page_a.status_code == page_b.status_code == 200

    data_a = form_data(page_a, "doc-form")
    data_a.update({"description": "Alice's change", "lines-0-quantity": "2", "action": "save"})
    assert a.post(url, data_a).status_code == 302

    data_b = form_data(page_b, "doc-form")
    data_b.update({"description": "Bob typed this", "lines-0-quantity": "7", "action": "save"})
    response = b.post(url, data_b)

    assert response.status_code == 409
    content = response.content.decode()
    assert html.escape(changed_by(draft)) in content
    assert "Changed by alice at " in changed_by(draft)
    assert 'value="Bob typed this"' in content  # his input is kept
    assert 'name="lines-0-quantity" value="7"' in content
    assert f'href="{url}">Reload the latest version</a>' in content
    draft.refresh_from_db()
    assert draft.description == "Alice's change"
    assert quantities(draft) == [D("2")]
    assert draft.grand_total == D("200.00")
    assert draft.updated_by == alice
    assert draft.version == 2
    assert AuditEvent.objects.filter(action="invoice changed").count() == 1

    # The reload link gives Bob the fresh page, and saving from it works.
    fresh = b.get(url)
    assert 'value="Alice&#x27;s change"' in fresh.content.decode()
    data = form_data(fresh, "doc-form")
    data.update({"description": "Bob, after reloading", "action": "save"})
    assert b.post(url, data).status_code == 302
    draft.refresh_from_db()
    assert draft.description == "Bob, after reloading" and draft.version == 3
    assert quantities(draft) == [D("2")]


@pytest.mark.usefixtures("books_stay_balanced")
def test_the_editor_carries_the_version_it_loaded_through_line_actions(alice, bob):
    """Add line / remove line re-render the editor with the version from the post (the one
    first loaded), not the current one, so a later save is still checked against what the
    rep saw; the htmx fragments (lines, totals) leave the hidden field alone (it sits
    outside them), and a save after them is refused when the draft moved on."""
    customer = CustomerFactory()
    draft = make_invoice(customer=customer, by=alice, lines=[line("PRT", "1", "100.00")])
    url = reverse("invoicing:edit", args=[draft.pk])
    a, b = client_for(alice), client_for(bob)
    page_b = b.get(url)
    loaded = form_data(page_b, "doc-form")
    assert loaded["version"] == "1"
    page = page_b.content.decode()
    assert page.index('name="version"') < page.index('id="lines"')

    data_a = form_data(a.get(url), "doc-form")
    data_a.update({"description": "Alice's change", "action": "save"})
    assert a.post(url, data_a).status_code == 302

    hx_lines = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "lines"}
    hx_totals = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "totals"}
    fragment = b.post(url, dict(loaded, action="add_line"), **hx_lines)
    assert fragment.status_code == 200 and 'name="version"' not in fragment.content.decode()
    fragment = b.post(url, dict(loaded, action="save"), **hx_totals)
    assert fragment.status_code == 200 and 'name="version"' not in fragment.content.decode()

    # Without htmx, Add line renders the whole page: it keeps the version Bob loaded.
    with_row = b.post(url, dict(loaded, action="add_line", description="Bob's row"))
    assert with_row.status_code == 200
    data_b = form_data(with_row, "doc-form")
    assert data_b["version"] == "1"
    assert data_b["lines-TOTAL_FORMS"] == "2"
    data_b.update({"lines-1-item": data_b["lines-0-item"], "lines-1-quantity": "3"})
    response = b.post(url, dict(data_b, action="save"))

    assert response.status_code == 409
    assert html.escape(changed_by(draft)) in response.content.decode()
    draft.refresh_from_db()
    assert draft.description == "Alice's change" and quantities(draft) == [D("1")]


@pytest.mark.usefixtures("books_stay_balanced")
def test_second_save_of_a_standalone_credit_memo_is_refused(alice, bob):
    """The editor guards a standalone credit memo the same way."""
    customer = CustomerFactory()
    memo = services.document_create(
        kind=DocumentKind.CREDIT_MEMO,
        customer=customer,
        date=datetime.date(2026, 11, 2),
        reason="goodwill",
        lines=[line("REW", "1", "75.00")],
        by=alice,
    )
    url = reverse("invoicing:edit", args=[memo.pk])
    a, b = client_for(alice), client_for(bob)
    page_a, page_b = a.get(url), b.get(url)
    assert a.post(url, dict(form_data(page_a, "doc-form"), note="Alice's note")).status_code == 302

    response = b.post(url, dict(form_data(page_b, "doc-form"), note="Bob's note"))

    assert response.status_code == 409
    content = response.content.decode()
    assert html.escape(changed_by(memo)) in content
    assert "Bob&#x27;s note" in content
    assert f'href="{url}">Reload the latest version</a>' in content
    memo.refresh_from_db()
    assert memo.note == "Alice's note" and memo.version == 2


# --- the credit memo made from an invoice ---------------------------------------------------


@pytest.mark.usefixtures("books_stay_balanced")
def test_second_save_of_a_credit_memo_from_an_invoice_is_refused(alice, bob, poster):
    """Alice and Bob open the same draft memo (Create Credit Memo form); Alice credits 2;
    Bob's save from his older page is refused with who and when, his quantity and note are
    still in the form, and the memo keeps Alice's quantity."""
    customer = CustomerFactory()
    invoice = make_invoice(
        customer=customer, by=alice, post_by=poster, lines=[line("PRT", "5", "10.00")]
    )
    ln = invoice.lines.get()
    memo = services.credit_memo_create_from_invoice(
        invoice=invoice, quantities={ln.pk: D("1")}, reason="return", by=alice
    )
    url = reverse("invoicing:edit", args=[memo.pk])
    a, b = client_for(alice), client_for(bob)
    page_a, page_b = a.get(url), b.get(url)
    assert form_data(page_b, "credit-form")["version"] == "1"

    assert (
        a.post(url, dict(form_data(page_a, "credit-form"), **{f"qty_{ln.pk}": "2"})).status_code
        == 302
    )
    data_b = dict(form_data(page_b, "credit-form"), note="Bob's note", **{f"qty_{ln.pk}": "4"})
    response = b.post(url, data_b)

    assert response.status_code == 409
    content = response.content.decode()
    assert html.escape(changed_by(memo)) in content
    assert "Changed by alice at " in changed_by(memo)
    assert f'name="qty_{ln.pk}" value="4"' in content
    assert "Bob&#x27;s note" in content
    assert f'href="{url}">Reload the latest version</a>' in content
    memo.refresh_from_db()
    assert quantities(memo) == [D("-2")] and memo.grand_total == D("-20.00")
    assert memo.note == "" and memo.version == 2


# --- the services -----------------------------------------------------------------------------


@pytest.mark.usefixtures("books_stay_balanced")
def test_update_draft_with_an_old_version_raises_stale_edit_and_changes_nothing(alice, bob):
    customer = CustomerFactory()
    draft = make_invoice(customer=customer, by=alice, lines=[line("PRT", "1", "100.00")])
    services.document_update_draft(
        document=draft, lines=[line("PRT", "2", "100.00")], by=alice, expected_version=1
    )

    with pytest.raises(StaleEdit) as exc:
        services.document_update_draft(
            document=draft,
            lines=[line("PRT", "9", "100.00")],
            description="Bob's",
            by=bob,
            expected_version=1,
        )

    assert exc.value.code == "stale"
    assert exc.value.messages == [changed_by(draft)]
    assert exc.value.changed_by == alice
    draft.refresh_from_db()
    assert draft.version == 2 and draft.description == "" and quantities(draft) == [D("2")]
    assert draft.updated_by == alice


@pytest.mark.usefixtures("books_stay_balanced")
def test_update_draft_with_the_current_version_saves_and_bumps_it(alice, bob):
    """A save based on the current version works and bumps the version, so the version it
    was based on is stale afterwards."""
    customer = CustomerFactory()
    draft = make_invoice(customer=customer, by=alice, lines=[line("PRT", "1", "100.00")])
    assert draft.version == 1

    saved = services.document_update_draft(
        document=draft, lines=[line("PRT", "3", "100.00")], by=bob, expected_version=1
    )

    assert saved.version == 2
    draft.refresh_from_db()
    assert draft.version == 2 and quantities(draft) == [D("3")] and draft.updated_by == bob
    with pytest.raises(StaleEdit):
        services.document_update_draft(
            document=draft, lines=[line("PRT", "4", "100.00")], by=alice, expected_version=1
        )
    saved = services.document_update_draft(
        document=draft, lines=[line("PRT", "4", "100.00")], by=alice, expected_version=2
    )
    assert saved.version == 3 and quantities(saved) == [D("4")]


@pytest.mark.usefixtures("books_stay_balanced")
def test_credit_memo_update_with_an_old_version_raises_stale_edit(alice, bob, poster):
    """Stale is reported before anything else about the lines (Bob should reload, not fix
    quantities he can't see), and the memo keeps Alice's quantity."""
    customer = CustomerFactory()
    invoice = make_invoice(
        customer=customer, by=alice, post_by=poster, lines=[line("PRT", "5", "10.00")]
    )
    ln = invoice.lines.get()
    memo = services.credit_memo_create_from_invoice(
        invoice=invoice, quantities={ln.pk: D("1")}, reason="return", by=alice
    )
    services.credit_memo_update_from_invoice(
        memo=memo, quantities={ln.pk: D("2")}, reason="return", by=alice, expected_version=1
    )

    with pytest.raises(StaleEdit) as exc:
        services.credit_memo_update_from_invoice(
            memo=memo, quantities={ln.pk: D("3")}, reason="goodwill", by=bob, expected_version=1
        )

    assert exc.value.messages == [changed_by(memo)]
    memo.refresh_from_db()
    assert memo.version == 2 and memo.reason == "return" and quantities(memo) == [D("-2")]
    saved = services.credit_memo_update_from_invoice(
        memo=memo, quantities={ln.pk: D("3")}, reason="goodwill", by=bob, expected_version=2
    )
    assert saved.version == 3 and quantities(saved) == [D("-3")]


# --- at the same moment (PostgreSQL) ----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("reference_data")
def test_simultaneous_saves_from_the_same_version_one_wins(settings):
    """Eight people save the draft they all loaded at version 1, at the same moment: one
    save lands, the other seven get StaleEdit, and the draft has the winner's lines."""
    threads = 8
    users = [make_user("A/R rep", f"rep{i}") for i in range(threads)]
    draft = make_invoice(customer=CustomerFactory(), by=users[0], lines=[line("PRT", "1")])
    barrier = threading.Barrier(threads)
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def save(i):
        try:
            barrier.wait(timeout=30)
            services.document_update_draft(
                document=draft,
                lines=[line("PRT", str(i + 1))],
                by=users[i],
                expected_version=1,
            )
            outcome = "saved"
        except StaleEdit:
            outcome = "stale"
        except BaseException as exc:  # reported below
            outcome = repr(exc)
        finally:
            connection.close()
        with lock:
            results.append((i, outcome))

    workers = [threading.Thread(target=save, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(worker.is_alive() for worker in workers), "a thread hung"

    outcomes = sorted(outcome for _, outcome in results)
    assert outcomes == ["saved"] + ["stale"] * (threads - 1), outcomes
    (winner,) = [i for i, outcome in results if outcome == "saved"]
    draft.refresh_from_db()
    assert draft.version == 2 and draft.updated_by == users[winner]
    assert quantities(draft) == [D(winner + 1)]
    assert not ledger_problems()
