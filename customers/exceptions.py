"""Customer errors; ValidationErrors so views show them on the form."""

from config.versioning import StaleVersion


class StaleCustomerEdit(StaleVersion):
    """The customer changed since the form was loaded: "Changed by … at … since you opened
    it"."""
