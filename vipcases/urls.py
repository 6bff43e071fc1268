from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from offers import api as offers_api
from offers import import_views
from offers import views as offer_views
from triage import views as triage_views
from vipcases import action_views, dashboard_views, export_views, mp_inbox_views, views

# A database that goes away under a middleware answers 503, like one under a view.
handler500 = "vipcases.middleware.server_error"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="case_list", permanent=False)),
    path("sign-in/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("sign-out/", auth_views.LogoutView.as_view(), name="logout"),
    path("health/", views.health, name="health"),
    path("cases/", views.case_list, name="case_list"),
    path("cases/bulk/", views.case_bulk, name="case_bulk"),
    path("cases/saved-filters/", views.saved_filter_list, name="saved_filter_list"),
    path(
        "cases/saved-filters/<int:saved_filter_id>/delete/",
        views.saved_filter_delete,
        name="saved_filter_delete",
    ),
    path("cases/<int:case_id>/", views.case_detail, name="case_detail"),
    path("cases/<int:case_id>/override/", triage_views.score_override, name="score_override"),
    path("cases/<int:case_id>/claim/", action_views.case_claim, name="case_claim"),
    path("cases/<int:case_id>/assign/", action_views.case_assign, name="case_assign"),
    path("cases/<int:case_id>/status/", action_views.case_status, name="case_status"),
    path("cases/<int:case_id>/note/", action_views.case_note, name="case_note"),
    path("cases/<int:case_id>/handover/", action_views.case_hand_over, name="case_hand_over"),
    path("cases/<int:case_id>/chaser/", action_views.case_chaser, name="case_chaser"),
    path("cases/<int:case_id>/disclosure/", export_views.disclosure_pack, name="disclosure_pack"),
    path(
        "cases/<int:case_id>/disclosure.pdf",
        export_views.disclosure_pack_pdf,
        name="disclosure_pack_pdf",
    ),
    path("offers/new/", offer_views.referral_new, name="referral_new"),
    path("offers/import/", import_views.import_upload, name="offer_import"),
    path("offers/import/<int:upload_id>/", import_views.import_report, name="offer_import_report"),
    path(
        "offers/import/<int:upload_id>/errors.csv",
        import_views.import_errors_csv,
        name="offer_import_errors",
    ),
    path(
        "offers/import/<int:upload_id>/confirm/",
        import_views.import_confirm,
        name="offer_import_confirm",
    ),
    path("api/offers/", offers_api.offers_create, name="api_offers_create"),
    path("api/cases/<str:case_id>/", offers_api.case_detail, name="api_case_detail"),
    path("api/schema/", offers_api.schema, name="api_schema"),
    path("mp-inbox/", mp_inbox_views.mp_inbox, name="mp_inbox"),
    path("mp-inbox/enquiries/new/", mp_inbox_views.enquiry_new, name="mp_inbox_enquiry_new"),
    path(
        "mp-inbox/enquiries/<int:enquiry_id>/reply/",
        mp_inbox_views.enquiry_reply,
        name="mp_inbox_enquiry_reply",
    ),
    path(
        "mp-inbox/cases/<int:case_id>/summary/",
        mp_inbox_views.status_summary,
        name="mp_inbox_summary",
    ),
    path("settings/", triage_views.settings_index, name="settings"),
    path("settings/clinical-need/", triage_views.clinical_need_list, name="clinical_need_list"),
    path(
        "settings/clinical-need/<str:category>/",
        triage_views.clinical_need_edit,
        name="clinical_need_edit",
    ),
    path("settings/routing/", triage_views.routing_policy, name="routing_policy"),
    path(
        "settings/routing/<int:version>/",
        triage_views.routing_policy_preview,
        name="routing_policy_preview",
    ),
    path(
        "settings/routing/<int:version>/apply/",
        triage_views.routing_policy_apply,
        name="routing_policy_apply",
    ),
    path("settings/jobs/<int:job_id>/", triage_views.job_detail, name="job_detail"),
    path("dashboard/", dashboard_views.backlog, name="dashboard"),
    path("dashboard/fairness/", dashboard_views.fairness_report, name="fairness_report"),
    path("dashboard/export/cases.csv", export_views.case_list_csv, name="export_case_list_csv"),
    path("dashboard/export/cases.xlsx", export_views.case_list_xlsx, name="export_case_list_xlsx"),
    path(
        "dashboard/export/transparency-register.csv",
        export_views.transparency_register_csv,
        name="export_transparency_register",
    ),
    path(
        "dashboard/export/awarded-contracts.json",
        export_views.ocds_release_package,
        name="export_ocds",
    ),
    path("admin/", admin.site.urls),
]
