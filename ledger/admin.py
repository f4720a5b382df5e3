"""The accountants' admin: chart of accounts, books-closed date, a read-only journal."""

from django.contrib import admin

from ledger.models import Account, AuditEvent, JournalEntry, JournalLine, LedgerSettings
from ledger.services import books_close


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "type", "normal_side", "system_role", "is_active"]
    list_filter = ["type", "is_active", "system_role"]
    search_fields = ["code", "name"]

    def get_readonly_fields(self, request, obj=None):
        """Nobody gives, moves or removes a system role here (the chart's seed gives them;
        the services find accounts by role). A system account keeps its type, side and
        active flag too; its code and name may change, since nothing looks them up."""
        readonly = ["system_role"]
        if obj is not None and obj.system_role:
            readonly += ["type", "normal_side", "is_active"]
        return readonly

    def has_delete_permission(self, request, obj=None):
        # No account is deleted (journal lines PROTECT them anyway), a system account least
        # of all: posting would fail without it.
        return False


@admin.register(LedgerSettings)
class LedgerSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "books_closed_through", "closed_at", "updated_at"]
    fields = ["books_closed_through", "closed_at"]
    readonly_fields = ["closed_at"]

    def has_add_permission(self, request):
        return not LedgerSettings.objects.exists()

    def save_model(self, request, obj, form, change):
        """Through the service: the row is locked and the move is audited (who, old, new)."""
        saved = books_close(through=obj.books_closed_through, by=request.user)
        obj.pk, obj.closed_at, obj.updated_at = saved.pk, saved.closed_at, saved.updated_at

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Accountants can see these; they change only through the desk's services (every
    app's read-only admins use this one)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """The lines of a read-only record: shown, never added, changed or deleted. Set
    `fields`; they are all read-only."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class JournalLineInline(ReadOnlyInline):
    model = JournalLine
    fields = ["account", "customer", "debit", "credit", "memo"]


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


# --- Sign-in security: second-factor devices --------------------------------------------
# django-otp's own admins show a device's secret key and its recovery codes; these show
# only whose device it is and when it was used. An Accountant removes a lost device
# (delete), and its owner then sets up a new one. Lockouts: Axes → Access attempts.
from django_otp.plugins.otp_static.models import StaticDevice  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402


class SecondFactorDeviceAdmin(ReadOnlyAdmin):
    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    search_fields = ("user__username", "user__first_name", "user__last_name")
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.delete_{opts.model_name}")


for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, SecondFactorDeviceAdmin)
