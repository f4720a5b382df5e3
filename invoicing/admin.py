"""The accountants' admin of the A/R desk: item codes, tax profiles and the company profile
(editable), and read-only views of documents, applications, deposits and frozen PDFs (they
change only through the desk's services)."""

from django.contrib import admin

from invoicing.models import (
    Application,
    CompanyProfile,
    Deposit,
    DepositApplication,
    DepositRefund,
    Document,
    DocumentLine,
    FrozenPDF,
    Item,
    TaxProfile,
)
from ledger.admin import ReadOnlyAdmin, ReadOnlyInline


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "description",
        "income_account",
        "credit_account",
        "default_unit_price",
        "default_tax_profile",
        "is_active",
    ]
    list_filter = ["is_active", "income_account"]
    search_fields = ["code", "description"]


@admin.register(TaxProfile)
class TaxProfileAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "rate", "is_active"]


class DocumentLineInline(ReadOnlyInline):
    model = DocumentLine
    fields = [
        "item",
        "description",
        "quantity",
        "unit_price",
        "unit_adjustment",
        "extended_amount",
        "tax_profile",
        "tax_amount",
    ]


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = ["number", "kind", "customer", "date", "grand_total", "balance_due", "status"]
    list_filter = ["kind", "status"]
    search_fields = ["number", "customer__name"]
    list_select_related = ["customer"]
    inlines = [DocumentLineInline]


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ["date", "source", "target", "amount", "created_by", "removed_on"]
    list_select_related = ["source", "target", "created_by"]
    search_fields = ["source__number", "target__number"]


@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdmin):
    list_display = ["number", "customer", "date", "method", "amount", "remaining", "status"]
    list_filter = ["status", "method"]
    list_select_related = ["customer"]
    search_fields = ["number", "customer__name"]


@admin.register(DepositApplication)
class DepositApplicationAdmin(ReadOnlyAdmin):
    list_display = ["date", "deposit", "invoice", "amount", "removed_on"]
    list_select_related = ["deposit", "invoice"]


@admin.register(DepositRefund)
class DepositRefundAdmin(ReadOnlyAdmin):
    list_display = ["date", "deposit", "method", "amount", "status", "created_by", "posted_by"]
    list_select_related = ["deposit", "created_by", "posted_by"]


@admin.register(CompanyProfile)
class CompanyProfileAdmin(admin.ModelAdmin):
    """The one letterhead row (pk 1): added once, then only changed; never deleted."""

    list_display = ["name", "phone", "email", "updated_at"]
    readonly_fields = ["updated_at"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not CompanyProfile.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.pk = 1  # the row company_profile() reads
        super().save_model(request, obj, form, change)


@admin.register(FrozenPDF)
class FrozenPDFAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "document",
        "deposit",
        "size",
        "sha256",
        "rendered_at",
        "rendered_by",
    ]
    list_select_related = ["document", "deposit", "rendered_by"]
    search_fields = ["document__number", "deposit__number", "sha256"]
