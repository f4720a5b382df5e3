"""The accountants' admin: chart of accounts, books-closed date, a read-only journal."""

from django.contrib import admin

from ledger.models import Account, AuditEvent, JournalEntry, JournalLine, LedgerSettings


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "type", "normal_side", "is_active"]
    list_filter = ["type", "is_active"]
    search_fields = ["code", "name"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LedgerSettings)
class LedgerSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "books_closed_through", "closed_at", "updated_at"]
    fields = ["books_closed_through", "closed_at"]
    readonly_fields = ["closed_at"]

    def has_add_permission(self, request):
        return not LedgerSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class JournalLineInline(admin.TabularInline):
    model = JournalLine
    fields = ["account", "customer", "debit", "credit", "memo"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["number", "date", "memo", "source_ref", "posted_by", "posted_at", "reversal_of"]
    list_filter = ["date"]
    search_fields = ["memo", "source_ref"]
    date_hierarchy = "date"
    inlines = [JournalLineInline]
    list_select_related = ["posted_by", "reversal_of"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "action", "target_ref", "amount"]
    list_filter = ["action"]
    search_fields = ["target_ref", "action"]
    list_select_related = ["actor"]
