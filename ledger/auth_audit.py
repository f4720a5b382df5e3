"""Sign-in events in the audit trail: every failed sign-in (a wrong password, or any try
while locked out) and every lockout django-axes imposes. Connected in LedgerConfig.ready.

The username is recorded as typed (cut to the column), never the password: Django's
`user_login_failed` already hands over credentials with secrets masked, and only the
username is read from them."""

from ledger.models import AuditAction
from ledger.services import audit_log


def _address(request) -> str:
    if request is None:
        return ""
    from config.security import client_ip

    return client_ip(request) or ""


def _username(credentials) -> str:
    return str((credentials or {}).get("username") or "")[:150]


def sign_in_failed(sender, credentials=None, request=None, **kwargs):
    username = _username(credentials)
    audit_log(
        by=None,
        action=AuditAction.SIGN_IN_FAILED,
        target_ref=username,
        username=username,
        address=_address(request),
    )


def sign_in_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    username = str(username or "")[:150]
    audit_log(
        by=None,
        action=AuditAction.SIGN_IN_LOCKED_OUT,
        target_ref=username,
        username=username,
        address=ip_address or _address(request),
    )


def connect():
    from axes.signals import user_locked_out
    from django.contrib.auth.signals import user_login_failed

    user_login_failed.connect(sign_in_failed, dispatch_uid="ledger.audit.sign_in_failed")
    user_locked_out.connect(sign_in_locked_out, dispatch_uid="ledger.audit.sign_in_locked_out")
