"""The app's URLs plus two reference pages that measure what any signed-in page costs
before it does anything of its own (benchmarks/pages_bench.py; never in production).

- `/__bench__/ok/`: signed in, the caseworker role checked as on every case page, then
  a response of "ok": the middleware, the session, the user and role queries, and no
  template.
- `/__bench__/base/`: the same, then the GOV.UK base template (header, navigation,
  footer, the context processors) with one paragraph in it.

Their SQL floors and medians show how far Django's own request cycle is from the floor
before a page's query, form or rows come in.
"""

from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

from vipcases.access import CASEWORKER, role_required

_BASE_ONLY = engines["django"].from_string(
    '{% extends "base.html" %}{% block title %}Reference{% endblock %}'
    '{% block content %}<p class="govuk-body">Reference page.</p>{% endblock %}'
)


@role_required(CASEWORKER)
def signed_in_ok(request):
    return HttpResponse("ok", content_type="text/plain")


@role_required(CASEWORKER)
def signed_in_base(request):
    return HttpResponse(_BASE_ONLY.render({}, request))


urlpatterns = [
    path("__bench__/ok/", signed_in_ok),
    path("__bench__/base/", signed_in_base),
    path("", include("vipcases.urls")),
]
