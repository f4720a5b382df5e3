from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = "Invoices and credits"

    def ready(self):
        from invoicing import checks
        from ledger.checks import register

        register(checks.check_receivable_ties_out)
        register(checks.check_open_amounts_in_range)
        register(checks.check_posted_documents_match_entries)
        register(checks.check_credit_quantities)
        register(checks.check_applications)
        register(checks.check_reservations)
        register(checks.check_deposits_tie_out)
