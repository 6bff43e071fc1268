from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from triage import routing_services, services
from triage.forms import ClinicalNeedForm, RoutingPolicyForm, ScoreOverrideForm
from triage.models import ClinicalNeed, ClinicalNeedChange, RoutingPolicy
from vipcases import selectors
from vipcases.access import MANAGER, role_required
from vipcases.models import BackgroundJob


@role_required(MANAGER)
def settings_index(request):
    return render(
        request,
        "settings/index.html",
        {
            "policy": RoutingPolicy.objects.filter(is_active=True).first(),
            "jobs": BackgroundJob.objects.select_related("created_by").order_by("-created_at")[:10],
        },
    )


@role_required(MANAGER)
def clinical_need_list(request):
    return render(
        request,
        "settings/clinical_need_list.html",
        {
            "rows": ClinicalNeed.objects.select_related("updated_by").order_by("category"),
            "changes": ClinicalNeedChange.objects.select_related("changed_by", "rescore_job")[:20],
        },
    )


@role_required(MANAGER)
def clinical_need_edit(request, category: str):
    row = get_object_or_404(ClinicalNeed, category=category)
    if request.method == "POST":
        form = ClinicalNeedForm(request.POST)
        if form.is_valid():
            try:
                change = services.clinical_need_update(
                    category=category, acting_user=request.user, **form.cleaned_data
                )
            except services.TriageError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    f"Clinical need for {row.get_category_display().lower()} saved. "
                    "Open cases are being re-scored.",
                )
                return redirect("job_detail", job_id=change.rescore_job_id)
    else:
        form = ClinicalNeedForm(
            initial={
                "criticality": row.criticality,
                "unmet_demand": row.unmet_demand,
                "required_standards": "\n".join(row.required_standards),
                "benchmark_price_gbp": row.benchmark_price_gbp,
            }
        )
    return render(request, "settings/clinical_need_edit.html", {"row": row, "form": form})


@role_required(MANAGER)
def job_detail(request, job_id: int):
    job = get_object_or_404(BackgroundJob.objects.select_related("created_by"), pk=job_id)
    return render(request, "settings/job_detail.html", {"job": job})


@require_POST
@role_required(MANAGER)
def score_override(request, case_id: int):
    case = selectors.case_get_for(request.user, case_id)
    form = ScoreOverrideForm(request.POST)
    if form.is_valid():
        try:
            data = form.cleaned_data
            services.score_override(
                case_id=case.pk,
                acting_user=request.user,
                total=data["total"],
                rationale=data["rationale"],
                expected_version=data["version"],
            )
        except services.TriageError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Score overridden. The automatic score is kept beside it.")
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("case_detail", case_id=case.pk)


@role_required(MANAGER)
def routing_policy(request):
    active = routing_services.routing_policy_active()
    if request.method == "POST":
        form = RoutingPolicyForm(request.POST)
        if form.is_valid():
            try:
                draft = routing_services.routing_policy_create(
                    acting_user=request.user, **form.policy_fields()
                )
            except services.TriageError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("routing_policy_preview", version=draft.version)
    else:
        form = RoutingPolicyForm(initial=RoutingPolicyForm.initial_from(active))
    return render(
        request,
        "settings/routing_policy.html",
        {
            "active": active,
            "form": form,
            "versions": RoutingPolicy.objects.select_related("created_by").order_by("-version")[
                :20
            ],
        },
    )


@role_required(MANAGER)
def routing_policy_preview(request, version: int):
    policy = get_object_or_404(RoutingPolicy, version=version)
    preview = routing_services.routing_policy_preview(policy)
    return render(request, "settings/routing_preview.html", {"policy": policy, "preview": preview})


@require_POST
@role_required(MANAGER)
def routing_policy_apply(request, version: int):
    policy = get_object_or_404(RoutingPolicy, version=version)
    try:
        job = routing_services.routing_policy_apply(
            policy_id=policy.pk,
            acting_user=request.user,
            rationale=request.POST.get("rationale", ""),
        )
    except services.TriageError as exc:
        messages.error(request, str(exc))
        return redirect("routing_policy_preview", version=version)
    messages.success(
        request, f"Routing policy version {version} is active. Cases in train are moving."
    )
    return redirect("job_detail", job_id=job.pk)
