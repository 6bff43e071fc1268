from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from triage import views as triage_views
from vipcases import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="case_list", permanent=False)),
    path("sign-in/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("sign-out/", auth_views.LogoutView.as_view(), name="logout"),
    path("health/", views.health, name="health"),
    path("cases/", views.case_list, name="case_list"),
    path("cases/<int:case_id>/", views.case_detail, name="case_detail"),
    path("cases/<int:case_id>/override/", triage_views.score_override, name="score_override"),
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
    path("admin/", admin.site.urls),
]
