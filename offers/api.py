"""The JSON intake API (DESIGN.md, "The intake API contract"; schema in offers/openapi.yaml).

- `POST /api/offers/` records an offer through offers.intake (validation) and
  offers.services.intake_offer_create (the write); `GET /api/cases/<id>/` reads a case
  the token created; `GET /api/schema/` serves the OpenAPI document.
- Every request carries `Authorization: Bearer <token>` (offers/tokens.py); a token may
  create offers and read the cases of those offers, nothing else.
- A retry never makes a second offer: a repeated `external_ref` answers 200 with the
  existing case, and a repeated `Idempotency-Key` with the same body replays the first
  answer (the same key with another body is refused, 422).
- Bad input answers 400 with every field error and saves nothing; a body over
  API_MAX_BODY_BYTES answers 413; more than API_RATE_LIMIT_PER_MINUTE requests a minute
  from one token answer 429 with Retry-After.
"""

import hashlib
import json
import logging
import math
import time
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from offers.intake import intake_validate
from offers.models import IdempotencyRecord
from offers.services import case_for_external_ref, intake_offer_record
from offers.tokens import api_token_authenticate
from triage.models import TriageAssessment
from vipcases.models import Case

logger = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).resolve().parent / "openapi.yaml"
IDEMPOTENCY_KEY_MAX = 255
RATE_WINDOW_SECONDS = 60
MAX_ID = 2**63 - 1  # a BIGINT primary key; larger ids in the URL name no case


# --- answers -------------------------------------------------------------------------------


def _error(status: int, code: str, message: str, errors=None, headers=None) -> JsonResponse:
    body = {"error": code, "message": message}
    if errors is not None:
        body["errors"] = [{"field": path, "message": text} for path, text in errors]
    return JsonResponse(body, status=status, headers=headers)


def _method_not_allowed(allowed: str) -> JsonResponse:
    return _error(
        405,
        "method_not_allowed",
        f"Use {allowed} here.",
        headers={"Allow": allowed},
    )


def _unauthorized(message: str) -> JsonResponse:
    return _error(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


# --- the steps every request takes -------------------------------------------------------


def _authenticate(request):
    """The request's active token, or an answer of 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None, _unauthorized("Send your intake token as: Authorization: Bearer <token>.")
    token = api_token_authenticate(raw.strip())
    if token is None:
        return None, _unauthorized("The token is not valid, or it has been revoked.")
    return token, None


def _now_seconds() -> float:
    return time.time()


def _rate_limited(token) -> JsonResponse | None:
    """429 when the token has used up this minute's requests. A fixed window in the cache
    (Redis when REDIS_URL is set, so every web process shares the count). If the cache is
    unreachable the request goes through: losing an offer is worse than a burst."""
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    if limit <= 0:
        return None
    now = _now_seconds()
    window = int(now // RATE_WINDOW_SECONDS)
    key = f"api-rate:{token.prefix}:{window}"
    try:
        count = _window_count(key)
    except Exception as exc:  # noqa: BLE001 - any cache failure: let the request through
        logger.warning("rate limit not checked, the cache is unavailable: %s", exc)
        return None
    if count <= limit:
        return None
    retry_after = max(1, math.ceil((window + 1) * RATE_WINDOW_SECONDS - now))
    return _error(
        429,
        "rate_limited",
        f"Too many requests: a token may make {limit} a minute. Try again in {retry_after} s.",
        headers={"Retry-After": str(retry_after)},
    )


def _window_count(key: str) -> int:
    """Count one more request under `key` in the cache, kept for two windows; the count."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        try:
            return cache.incr(key)
        except ValueError:  # the window's first request (or two at once: add decides)
            return 1 if cache.add(key, 1, timeout=RATE_WINDOW_SECONDS * 2) else cache.incr(key)
    # On Redis one INCR (the cache's incr costs an EXISTS too, and a new client each
    # call), with a client kept on the backend; the expiry is set by the window's first
    # request. Were it lost, the key would only linger: the next window has its own key.
    client = getattr(backend, "_api_rate_client", None)
    if client is None:
        client = backend._api_rate_client = backend._cache.get_client(write=True)
    key = backend.make_and_validate_key(key)
    count = client.incr(key)
    if count == 1:
        client.expire(key, RATE_WINDOW_SECONDS * 2)
    return count


def _read_body(request) -> tuple[bytes | None, JsonResponse | None]:
    limit = settings.API_MAX_BODY_BYTES
    too_large = _error(413, "too_large", f"The body must be at most {limit:,} bytes.")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None, too_large
    body = request.read(limit + 1)
    if len(body) > limit:
        return None, too_large
    return body, None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _parse_json(body: bytes):
    """The body as Python, numbers with a fraction as Decimal (exact prices); raises
    ValueError for anything but strict UTF-8 JSON."""
    try:
        text = body.decode("utf-8")
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from exc


def _body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _created_body(case) -> dict:
    return {
        "offer_id": case.offer_id,
        "case_id": case.pk,
        "url": reverse("case_detail", args=[case.pk]),
    }


def _replay(record: IdempotencyRecord, request_hash: str) -> JsonResponse:
    if record.request_hash != request_hash:
        return _error(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different body. "
            "Use a new key for a new offer.",
        )
    return JsonResponse(
        record.response_body,
        status=record.response_status,
        headers={"Idempotent-Replayed": "true"},
    )


# --- the views -------------------------------------------------------------------------------


@csrf_exempt
def offers_create(request):
    if request.method != "POST":
        return _method_not_allowed("POST")
    token, refused = _authenticate(request)
    if refused:
        return refused
    refused = _rate_limited(token)
    if refused:
        return refused
    body, refused = _read_body(request)
    if refused:
        return refused
    try:
        data = _parse_json(body)
    except ValueError as exc:
        return _error(400, "malformed_json", f"The body is not valid JSON: {exc}", errors=[])

    key = request.headers.get("Idempotency-Key")
    if key is not None:
        key = key.strip()
        if not key or len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
            return _error(
                400,
                "invalid",
                "The request has errors; nothing was saved.",
                errors=[("Idempotency-Key", f"Must be 1 to {IDEMPOTENCY_KEY_MAX} characters.")],
            )
    request_hash = _body_hash(body)
    if key:
        record = IdempotencyRecord.objects.filter(api_token=token, key=key).first()
        if record is not None:
            return _replay(record, request_hash)

    intake, errors = intake_validate(data, now=timezone.now())
    if errors:
        return _error(400, "invalid", "The request has errors; nothing was saved.", errors=errors)

    try:
        with transaction.atomic():
            case = intake_offer_record(acting_user=None, intake=intake, api_token=token)
            answer = _created_body(case)
            if key:
                # Last, so the unique index on (token, key) makes a second request with
                # the same key wait here until this one commits, then fail and replay.
                _remember(token, key, request_hash, 201, answer)
    except IntegrityError:
        # The key or the external_ref was recorded by an earlier (or simultaneous)
        # request; this transaction wrote nothing.
        return _answer_existing(token, key, request_hash, intake.external_ref)
    return JsonResponse(answer, status=201, headers={"Location": answer["url"]})


def _remember(token, key: str, request_hash: str, status: int, answer: dict) -> None:
    """Record the answer given under an Idempotency-Key, for its retries to replay."""
    IdempotencyRecord.objects.create(
        api_token=token,
        key=key,
        request_hash=request_hash,
        response_status=status,
        response_body=answer,
    )


def _answer_existing(token, key, request_hash: str, external_ref: str | None) -> JsonResponse:
    """The answer to a request that found its offer already recorded: the earlier answer
    for a repeated Idempotency-Key, else 200 with the case of a repeated external_ref
    (409 if another integration sent it), remembered under the key if there is one."""
    if key:
        record = IdempotencyRecord.objects.filter(api_token=token, key=key).first()
        if record is not None:
            return _replay(record, request_hash)
    case = case_for_external_ref(external_ref) if external_ref else None
    if case is None:
        raise RuntimeError("intake refused by the database for a reason other than a repeat")
    if case.offer.api_token_id != token.pk:
        # Someone else's offer: this token may not see its case.
        return _error(
            409,
            "conflict",
            "This external_ref belongs to an offer this token did not send.",
            errors=[("external_ref", "Already used by another integration or an import.")],
        )
    answer = _created_body(case)
    if key:
        try:
            with transaction.atomic():
                _remember(token, key, request_hash, 200, answer)
        except IntegrityError:
            record = IdempotencyRecord.objects.get(api_token=token, key=key)
            return _replay(record, request_hash)
    return JsonResponse(answer, status=200)


def _owner(case) -> str | None:
    if case.owner is None:
        return None
    return case.owner.get_full_name() or case.owner.get_username()


def _case_body(case: Case, assessment: TriageAssessment | None) -> dict:
    return {
        "case_id": case.pk,
        "offer_id": case.offer_id,
        "external_ref": case.offer.external_ref,
        "url": reverse("case_detail", args=[case.pk]),
        "queue": case.queue,
        "status": case.status,
        "outcome": case.outcome or None,
        "owner": _owner(case),
        "score": case.priority if assessment is not None else None,
        "eligible": case.eligible,
        "components": [
            {
                "name": c["name"],
                "points": c["points"],
                "maximum": c["maximum"],
                "sentence": c["sentence"],
            }
            for c in (assessment.components if assessment else [])
        ],
        "flags": [
            {"code": f["code"], "sentence": f["sentence"], "line": f.get("line")}
            for f in (assessment.flags if assessment else [])
        ],
    }


@csrf_exempt
def case_detail(request, case_id: str):
    if request.method != "GET":
        return _method_not_allowed("GET")
    token, refused = _authenticate(request)
    if refused:
        return refused
    refused = _rate_limited(token)
    if refused:
        return refused
    not_found = _error(404, "not_found", "No case with that id was created with this token.")
    # Any id in the path answers JSON; only a BIGINT can name a case.
    if not (case_id.isascii() and case_id.isdigit()) or int(case_id) > MAX_ID:
        return not_found
    case = (
        Case.objects.select_related("offer", "owner")
        .filter(pk=int(case_id), offer__api_token=token)
        .first()
    )
    if case is None:
        return not_found
    assessment = TriageAssessment.objects.filter(case=case).order_by("-created_at", "-id").first()
    return JsonResponse(_case_body(case, assessment))


@csrf_exempt  # answers 405 to a POST, under either middleware stack (vipcases/wsgi.py)
def schema(request):
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed("GET")
    return HttpResponse(SCHEMA_PATH.read_bytes(), content_type="application/yaml")
