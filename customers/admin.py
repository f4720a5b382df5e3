from django.contrib import admin

from customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "billing_contact", "email", "billing_terms", "is_active"]
    list_filter = ["is_active", "billing_terms"]
    search_fields = ["code", "name", "email"]
    readonly_fields = ["created_at", "updated_at", "created_by", "updated_by", "version"]

    def save_model(self, request, obj, form, change):
        # Admin edits go through the same audit as the desk's forms.
        from customers.services import EDITABLE_FIELDS, customer_create, customer_update

        fields = {
            name: form.cleaned_data[name] for name in EDITABLE_FIELDS if name in form.cleaned_data
        }
        if change:
            customer_update(customer=obj, by=request.user, **fields)
        else:
            created = customer_create(by=request.user, **fields)
            obj.pk = created.pk
