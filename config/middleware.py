"""Every desk page needs a role, not just a login."""

from django.core.exceptions import PermissionDenied

from config.roles import Action, user_may

# The accountants' admin checks its own permissions; login/logout must stay reachable.
OPEN_PREFIXES = ("/admin/", "/login/", "/logout/", "/static/")


class RoleRequiredMiddleware:
    """A signed-in user without any of the roles (A/R rep, Poster, Accountant) gets 403 on
    the desk instead of seeing every customer's invoices."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(OPEN_PREFIXES)
            and not user_may(user, Action.VIEW)
        ):
            raise PermissionDenied(
                "Your account has no Credit Desk role yet; ask an administrator."
            )
        return self.get_response(request)
