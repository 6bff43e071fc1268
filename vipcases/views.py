from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from vipcases import selectors
from vipcases.access import role_required


@require_GET
@never_cache
def health(request):
    """Liveness for load balancers: 200 when the database answers, 503 when it does not.
    The broker is reported but does not fail the check (offers are saved without it)."""
    status = {"database": "ok", "broker": "not configured (tasks run in process)"}
    code = 200
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means unavailable
        status["database"] = f"unavailable: {type(exc).__name__}"
        code = 503
    if settings.REDIS_URL:
        status["broker"] = selectors.broker_status()
    status["status"] = "ok" if code == 200 else "unavailable"
    return JsonResponse(status, status=code)


@role_required("caseworker", "mp_inbox")
def case_list(request):
    cases = selectors.case_list_for(request.user)[:50]
    return render(request, "cases/case_list.html", {"cases": cases})


@role_required("caseworker", "mp_inbox")
def case_detail(request, case_id: int):
    case = selectors.case_get_for(request.user, case_id)
    return render(
        request, "cases/case_detail.html", selectors.case_detail_context(request.user, case)
    )
