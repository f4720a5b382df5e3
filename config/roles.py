"""Who may do what: the one place that answers "may this user do X".

Roles are Django groups (created by ledger's data migration); each role is a set of
model permissions, kept in sync after every `migrate`. Views and services ask
`user_may(user, Action.POST)` instead of testing group names.

A user's roles are read once per user object — one query of their group names
(`user_roles`), cached on the object — and `user_may` answers from ROLE_PERMISSIONS,
so a page costs no permission look-ups. The signed-in user is fetched afresh on every
request, so a role given or taken away shows on the next request; changing the groups of
a user object in hand (`user.groups.add(…)`) clears its cache at once.
"""

from enum import StrEnum

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models.signals import m2m_changed
from django.dispatch import receiver


class Role(StrEnum):
    """The roles, by the names of their groups."""

    REP = "A/R rep"
    POSTER = "Poster"
    ACCOUNTANT = "Accountant"


class Action(models.TextChoices):
    VIEW = "view", "see the A/R desk"
    EDIT_CUSTOMERS = "edit_customers", "create and edit customers"
    EDIT_DRAFTS = "edit_drafts", "create and edit draft documents"
    APPLY_CREDIT = "apply_credit", "apply and unapply credits"
    POST = "post", "post documents"
    VOID = "void", "void posted documents"
    RELEASE_REFUND = "release_refund", "release refunds (money out)"
    VIEW_LEDGER = "view_ledger", "see the trial balance and account ledgers"
    ADMIN = "admin", "use the accountants' admin"


# Each action is granted by one permission; a role is the set of permissions below.
ACTION_PERMISSION = {
    Action.VIEW: "invoicing.view_document",
    Action.EDIT_CUSTOMERS: "customers.change_customer",
    Action.EDIT_DRAFTS: "invoicing.change_document",
    Action.APPLY_CREDIT: "invoicing.apply_credit",
    Action.POST: "invoicing.post_document",
    Action.VOID: "invoicing.void_document",
    Action.RELEASE_REFUND: "invoicing.release_refund",
    Action.VIEW_LEDGER: "ledger.view_journalline",
}

_REP_PERMS = [
    "customers.view_customer",
    "customers.add_customer",
    "customers.change_customer",
    "invoicing.view_document",
    "invoicing.change_document",
    "invoicing.apply_credit",
    "ledger.view_account",
    "ledger.view_journalentry",
]
_ACCOUNTANT_PERMS = [
    "customers.view_customer",
    "invoicing.view_document",
    "ledger.view_account",
    "ledger.add_account",
    "ledger.change_account",
    "invoicing.view_item",
    "invoicing.add_item",
    "invoicing.change_item",
    "invoicing.view_taxprofile",
    "invoicing.add_taxprofile",
    "invoicing.change_taxprofile",
    "ledger.view_ledgersettings",
    "ledger.change_ledgersettings",
    "ledger.view_journalentry",
    "ledger.view_journalline",
    "ledger.view_auditevent",
    "invoicing.view_application",
    "invoicing.view_deposit",
    "invoicing.view_depositapplication",
    "invoicing.view_depositrefund",
    "invoicing.view_companyprofile",
    "invoicing.add_companyprofile",
    "invoicing.change_companyprofile",
    "invoicing.view_frozenpdf",
    # Sign-in security: see and clear lockouts, remove a lost second-factor device.
    "axes.view_accessattempt",
    "axes.delete_accessattempt",
    "axes.view_accesslog",
    "axes.view_accessfailurelog",
    "otp_totp.view_totpdevice",
    "otp_totp.delete_totpdevice",
    "otp_static.view_staticdevice",
    "otp_static.delete_staticdevice",
]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.REP: _REP_PERMS,
    Role.POSTER: [
        *_REP_PERMS,
        "invoicing.post_document",
        "invoicing.void_document",
        "invoicing.release_refund",
        "ledger.view_journalline",
    ],
    Role.ACCOUNTANT: _ACCOUNTANT_PERMS,
}
# Accountants work in the Django admin; is_staff is what lets them in.
STAFF_ROLES = {Role.ACCOUNTANT}


# The permissions each role grants, as sets (what `user_may` looks in).
_ROLE_CODES = {str(role): frozenset(codes) for role, codes in ROLE_PERMISSIONS.items()}
_ROLES_CACHE = "_desk_roles"


def user_roles(user) -> tuple[str, ...]:
    """The names of the user's groups, by name; read with one query per user object."""
    if not (user and user.is_authenticated):
        return ()
    roles = getattr(user, _ROLES_CACHE, None)
    if roles is None:
        roles = tuple(user.groups.order_by("name").values_list("name", flat=True))
        setattr(user, _ROLES_CACHE, roles)
    return roles


def forget_roles(user) -> None:
    """Drop the roles cached on `user` (the next `user_roles` reads them again)."""
    user.__dict__.pop(_ROLES_CACHE, None)


@receiver(m2m_changed, dispatch_uid="roles.forget")
def _groups_changed(sender, instance, **kwargs):
    user_model = get_user_model()
    if sender is user_model.groups.through and isinstance(instance, user_model):
        forget_roles(instance)


def user_may(user, action: Action) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    if action == Action.ADMIN:
        return user.is_staff
    if user.is_superuser:
        return True
    permission = ACTION_PERMISSION[action]
    return any(permission in _ROLE_CODES.get(role, ()) for role in user_roles(user))


def roles_that_may(action: Action) -> list[str]:
    """The roles that grant `action`, in the order they are declared."""
    if action == Action.ADMIN:
        return [str(role) for role in STAFF_ROLES]
    permission = ACTION_PERMISSION[action]
    return [str(role) for role, codes in ROLE_PERMISSIONS.items() if permission in codes]


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def refusal(action: Action, doing: str = "") -> str:
    """What a user without `action` is told: what they can't do and who can, e.g. "Only a
    Poster can post documents. Ask a Poster to do it." `doing` names the act more
    precisely ("post Invoice INV-000012") where the caller knows it."""
    action = Action(action)
    doing = doing or action.label
    roles = roles_that_may(action)
    if not roles:
        return f"You don't have permission to {doing}."
    names = [f"{_article(role)} {role}" for role in roles]
    who = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"Only {who} can {doing}. Ask {who} to do it."


def require(user, action: Action) -> None:
    """Raise PermissionDenied (a 403 in views) unless the user may do `action`."""
    if not user_may(user, action):
        raise PermissionDenied(refusal(action))


def sync_role_permissions(group_model, permission_model) -> None:
    """Make every role group hold exactly its permissions (idempotent)."""
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for code in codes:
            app_label, codename = code.split(".")
            perm = permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                wanted.append(perm)
        group.permissions.set(wanted)
