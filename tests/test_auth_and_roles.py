"""Login is required everywhere; roles decide who may do what."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from config.roles import Action, Role, user_may
from tests.factories import CustomerFactory, make_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def some_pages(rep, customer):
    doc = make_invoice(customer=customer, by=rep)
    return [
        "/",
        reverse("customers:list"),
        reverse("customers:create"),
        reverse("customers:detail", args=[customer.pk]),
        reverse("customers:edit", args=[customer.pk]),
        reverse("invoicing:list"),
        reverse("invoicing:list") + "?export=csv",
        reverse("invoicing:create"),
        reverse("invoicing:detail", args=[doc.pk]),
        reverse("invoicing:edit", args=[doc.pk]),
        reverse("invoicing:post", args=[doc.pk]),
        reverse("invoicing:void", args=[doc.pk]),
    ]


def test_anonymous_users_are_redirected_to_login_on_every_page(client, some_pages):
    """Every page of the desk sends an anonymous visitor to the login page, keeping `next`."""
    for url in some_pages:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next="), url


def test_anonymous_post_is_redirected_and_writes_nothing(client, customer):
    """A POST without a session changes nothing."""
    response = client.post(reverse("customers:create"), {"code": "X1", "name": "Sneaky"})
    assert response.status_code == 302
    assert not type(customer).objects.filter(code="X1").exists()


def test_every_url_pattern_is_covered_by_the_login_gate(client):
    """No desk URL is reachable without logging in (walks the URLconf, not a hand-made list)."""
    from django.urls import get_resolver

    def walk(patterns, prefix=""):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern)

    for pattern in walk(get_resolver().url_patterns):
        if pattern.startswith(("admin/", "login/", "logout/")) or "<" in pattern or "^" in pattern:
            continue
        response = client.get("/" + pattern)
        assert response.status_code in (301, 302), pattern
        assert "/login/" in response["Location"], pattern


def test_login_page_renders_and_logs_in(client, rep):
    """The login form works with a real password and lands on the Invoices hub."""
    rep.set_password("correct horse battery")
    rep.save()
    assert client.get(reverse("login")).status_code == 200
    bad = client.post(reverse("login"), {"username": "rep", "password": "wrong"})
    assert bad.status_code == 200
    assert "Please enter a correct username and password" in bad.content.decode()
    good = client.post(reverse("login"), {"username": "rep", "password": "correct horse battery"})
    assert good.status_code == 302
    assert client.get("/", follow=True).status_code == 200


def test_role_groups_exist_with_their_permissions(db):
    """The data migration creates the three roles and `migrate` gives them their permissions."""
    names = set(Group.objects.values_list("name", flat=True))
    assert {Role.REP, Role.POSTER, Role.ACCOUNTANT} <= names
    poster = Group.objects.get(name=Role.POSTER)
    assert poster.permissions.filter(codename="post_document").exists()
    assert (
        not Group.objects.get(name=Role.REP).permissions.filter(codename="post_document").exists()
    )


def test_user_may_answers_per_role(rep, poster, accountant):
    """Reps edit drafts but don't post; posters post, void and release; accountants use the admin."""
    assert user_may(rep, Action.EDIT_DRAFTS)
    assert user_may(rep, Action.APPLY_CREDIT)
    assert not user_may(rep, Action.POST)
    assert not user_may(rep, Action.RELEASE_REFUND)
    assert user_may(poster, Action.POST)
    assert user_may(poster, Action.VOID)
    assert user_may(poster, Action.RELEASE_REFUND)
    assert user_may(accountant, Action.ADMIN)
    assert not user_may(accountant, Action.POST)
    assert not user_may(rep, Action.ADMIN)


def test_accountant_reaches_the_admin_and_rep_does_not(client, accountant, rep):
    """The Django admin is the accountants' tool: chart of accounts and books-closed date."""
    client.force_login(accountant)
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:ledger_account_changelist")).status_code == 200
    assert client.get(reverse("admin:ledger_ledgersettings_changelist")).status_code == 200
    client.force_login(rep)
    assert client.get(reverse("admin:index")).status_code == 302


def test_accountant_cannot_edit_customers_on_the_desk(client, accountant):
    """Accountants read the desk; changing customers is the reps' job (403)."""
    client.force_login(accountant)
    assert client.get(reverse("customers:list")).status_code == 200
    assert client.get(reverse("customers:create")).status_code == 403
    c = CustomerFactory()
    assert client.post(reverse("customers:edit", args=[c.pk]), {"name": "x"}).status_code == 403


def test_a_user_without_a_role_is_refused_the_desk(client, db):
    """Logging in isn't enough: a user with no role gets 403 on desk pages."""
    from tests.factories import make_user

    nobody = make_user(None, "norole")
    client.force_login(nobody)
    assert client.get(reverse("invoicing:list")).status_code == 403
    assert client.get(reverse("customers:list")).status_code == 403


def test_accountant_sees_the_journal_and_subledgers_read_only(client, accountant):
    """The admin lists journal entries, applications and deposits for accountants, and
    offers no way to add or change them."""
    client.force_login(accountant)
    for name in [
        "ledger_journalentry",
        "ledger_auditevent",
        "invoicing_application",
        "invoicing_deposit",
        "invoicing_depositrefund",
        "invoicing_document",
    ]:
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
        assert client.get(reverse(f"admin:{name}_add")).status_code == 403, name
    assert client.get(reverse("admin:invoicing_item_add")).status_code == 200
