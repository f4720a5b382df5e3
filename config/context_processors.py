"""Template context shared by every page."""

from django.conf import settings

from config.roles import Action, user_may


def roles(request):
    user = getattr(request, "user", None)
    return {
        "may": {action.value: user_may(user, action) for action in Action},
        "COMPANY_NAME": settings.COMPANY_NAME,
        "CURRENCY": settings.CURRENCY,
    }
