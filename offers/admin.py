from django.contrib import admin

from offers.models import ApiToken, Introducer, Introduction, Offer, OfferLine, Supplier
from offers.tokens import api_tokens_revoke
from vipcases.admin import ReadOnlyAdmin


@admin.register(Supplier)
class SupplierAdmin(ReadOnlyAdmin):
    """Supplier facts feed the score, so they change through services that re-score."""

    list_display = [
        "name",
        "company_number",
        "country",
        "due_diligence_status",
        "ppe_trading_history",
    ]
    list_filter = ["due_diligence_status", "country", "ppe_trading_history"]
    search_fields = ["name", "company_number"]
    show_full_result_count = False


@admin.register(Introducer)
class IntroducerAdmin(ReadOnlyAdmin):
    list_display = ["name", "role", "office"]
    list_filter = ["role"]
    search_fields = ["name", "office"]


class OfferLineInline(admin.TabularInline):
    model = OfferLine
    extra = 0
    can_delete = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request, obj=None):
        return False


class IntroductionInline(OfferLineInline):
    model = Introduction


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdmin):
    """Offers are created through intake (form, import, API) so that a case and its
    triage always follow; the admin reads them."""

    list_display = ["pk", "supplier", "channel", "received_at", "external_ref"]
    list_filter = ["channel"]
    list_select_related = ["supplier"]
    search_fields = ["external_ref", "supplier__name"]
    raw_id_fields = ["supplier", "created_by"]
    inlines = [OfferLineInline, IntroductionInline]
    show_full_result_count = False


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Intake API tokens are made by `manage.py create_api_token` (which shows the token
    once); here an admin sees them and revokes them, never edits or deletes them."""

    list_display = ["name", "prefix", "created_at", "last_used_at", "revoked_at", "revoked_by"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["revoked_by"]
    search_fields = ["name", "prefix"]
    exclude = ["token_hash"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens", permissions=["revoke"])
    def revoke(self, request, queryset):
        count = api_tokens_revoke(
            token_ids=queryset.values_list("pk", flat=True), acting_user=request.user
        )
        self.message_user(request, f"{count} token{'s' if count != 1 else ''} revoked.")

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("offers.change_apitoken")
