from django.apps import AppConfig


class DeskConfig(AppConfig):
    """The project package as an app, so its sign-in receivers (idle time stamp, second
    factor device flag) are connected before the first sign-in, not on the first request."""

    name = "config"
    label = "desk"
    verbose_name = "Credit Desk"

    def ready(self):
        from config import middleware, two_factor  # noqa: F401  (connects receivers)
