"""Template context shared by every page."""

from django.conf import settings

from config.roles import Action, user_may, user_roles


def roles(request):
    user = getattr(request, "user", None)
    from config.two_factor import needs_second_factor

    return {
        "may": {action.value: user_may(user, action) for action in Action},
        # The user's role names for the top bar, from the one groups query (config.roles).
        "user_roles": user_roles(user),
        # Signed in with a password, still owing a code: the layout shows no navigation.
        "second_factor_pending": needs_second_factor(request),
        "COMPANY_NAME": settings.COMPANY_NAME,
        "CURRENCY": settings.CURRENCY,
    }
