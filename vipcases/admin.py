"""Admin for case data. Events are evidence: they can be read, never edited or deleted here."""

from django.contrib import admin

from vipcases.models import Case, CaseEvent, ExportRecord, Handover, MPEnquiry


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by services only: the admin shows them and changes nothing."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "queue", "status", "owner", "priority", "opened_at", "outcome"]
    list_filter = ["queue", "status", "outcome"]
    list_select_related = ["owner"]
    search_fields = [
        "offer__supplier__name",
        "offer__supplier__company_number",
        "offer__external_ref",
    ]
    raw_id_fields = ["offer", "owner", "duplicate_of"]
    show_full_result_count = False


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ["case", "kind", "actor", "created_at", "from_value", "to_value"]
    list_filter = ["kind"]
    list_select_related = ["actor"]
    raw_id_fields = ["case", "actor"]
    show_full_result_count = False


@admin.register(Handover)
class HandoverAdmin(ReadOnlyAdmin):
    list_display = ["case", "from_queue", "to_queue", "created_by", "created_at"]
    list_select_related = ["created_by"]
    raw_id_fields = ["case", "created_by"]


@admin.register(MPEnquiry)
class MPEnquiryAdmin(ReadOnlyAdmin):
    list_display = ["case", "mp_name", "status", "received_at", "replied_at"]
    list_filter = ["status"]
    raw_id_fields = ["case", "recorded_by"]


@admin.register(ExportRecord)
class ExportRecordAdmin(ReadOnlyAdmin):
    """Who exported what: evidence, like the case timeline."""

    list_display = ["exported_at", "exported_by", "kind", "row_count", "query"]
    list_filter = ["kind"]
    list_select_related = ["exported_by"]
    show_full_result_count = False
