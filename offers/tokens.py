"""Intake API tokens: one per integration, stored hashed, revocable.

A token looks like `vpc_<12 hex characters>_<43 random characters>`. The first part
(the prefix) is stored in clear to find the row; only a SHA-256 of the whole token is
stored, compared in constant time. The token is shown once, when it is made, and cannot
be recovered: a lost token is revoked and replaced.
"""

import hashlib
import hmac
import secrets

from django.db import connection, transaction
from django.utils import timezone

from offers.models import ApiToken

SCHEME = "vpc_"
PREFIX_CHARS = 12
# Writing last_used_at on every request would cost a write per request; this is enough
# for an admin deciding whether a token is still in use.
LAST_USED_RESOLUTION_SECONDS = 60


_FIELDS = ApiToken._meta.concrete_fields
_ATTNAMES = [f.attname for f in _FIELDS]
_BY_PREFIX = "SELECT {} FROM {} WHERE prefix = %s".format(  # noqa: S608 - names from the model
    ", ".join(f'"{f.column}"' for f in _FIELDS), ApiToken._meta.db_table
)


def _by_prefix(prefix: str) -> ApiToken | None:
    """The token row with this prefix (unique), as filter().first() gives it.

    On PostgreSQL by one plain query and Model.from_db: filter().first() compiles its
    query on every request, and raw() cost twice this (0.33 against 0.17 ms a call).
    psycopg returns every column as the model holds it; SQLite returns datetimes as text,
    which only the ORM's converters turn back, so there it is the ORM."""
    if connection.vendor != "postgresql":
        return ApiToken.objects.filter(prefix=prefix).first()
    with connection.cursor() as cursor:
        cursor.execute(_BY_PREFIX, [prefix])
        row = cursor.fetchone()
    return None if row is None else ApiToken.from_db(connection.alias, _ATTNAMES, row)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@transaction.atomic
def api_token_create(*, name: str, acting_user=None) -> tuple[ApiToken, str]:
    """A new token for the integration `name`. Returns the row and the token itself,
    which is not stored anywhere: show it once."""
    name = (name or "").strip()
    if not name:
        raise ValueError("Give the token a name: the integration that will use it.")
    prefix = secrets.token_hex(PREFIX_CHARS // 2)
    raw = f"{SCHEME}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        name=name[:100], prefix=prefix, token_hash=token_hash(raw), created_by=acting_user
    )
    return token, raw


@transaction.atomic
def api_tokens_revoke(*, token_ids, acting_user) -> int:
    """Revoke tokens (an admin action): from now on they answer 401. Tokens are never
    deleted, so the offers they created keep naming them. Returns how many changed."""
    return ApiToken.objects.filter(pk__in=list(token_ids), revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=acting_user
    )


def api_token_authenticate(raw: str) -> ApiToken | None:
    """The active token `raw` stands for, or None."""
    if not raw.startswith(SCHEME) or len(raw) > 200:
        return None
    prefix = raw[len(SCHEME) : len(SCHEME) + PREFIX_CHARS]
    token = _by_prefix(prefix)
    if token is None:
        return None
    if not hmac.compare_digest(token.token_hash, token_hash(raw)):
        return None
    if token.revoked_at is not None:
        return None
    now = timezone.now()
    if (
        token.last_used_at is None
        or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS
    ):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
