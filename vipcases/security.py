"""Sign-in security: the security log, the session's absolute lifetime and the lockout page.

Every sign-in, failed sign-in, lockout, sign-out, expired session and refused page is
written to the `vipcases.security` logger as one line of `key=value` fields:

    event=sign_in_failed username=cw.priya ip=203.0.113.7 path=/sign-in/

The same fields are on the log record as `record.security` (a dict) for handlers that
ship structured logs. Passwords are never logged: only the username is read from the
credentials. Values a client chose (username, path) are quoted and escaped when they
hold anything but plain characters, so they cannot forge a log line.

The signal receivers are connected by `VipcasesConfig.ready()`.
"""

import ipaddress
import json
import logging
import math
import re
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import user_logged_in, user_logged_out, user_login_failed
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

logger = logging.getLogger("vipcases.security")

# Session key: when the user signed in, in seconds since the epoch.
SIGNED_IN_AT = "vipcases_signed_in_at"
# Session key: when the session's idle expiry was last pushed on, in seconds since the epoch.
REFRESHED_AT = "vipcases_refreshed_at"

_PLAIN = re.compile(r"[\w.@+:/-]+")
_MAX_FIELD = 200


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or the one our proxy saw when BEHIND_PROXY.

    Behind a proxy, the right-most X-Forwarded-For entry is the one the proxy itself
    appended; entries to its left came from the client and prove nothing. A value that is
    not an IP address is ignored (django-axes stores it in an address column).
    """
    if request is None:
        return None
    meta = request.META
    if settings.BEHIND_PROXY:
        hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if hops and _is_ip(hops[-1]):
            return hops[-1]
    remote = meta.get("REMOTE_ADDR", "")
    return remote if _is_ip(remote) else None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _field(value) -> str:
    if value is None or value == "":
        return "-"
    text = str(value)[:_MAX_FIELD]
    return text if _PLAIN.fullmatch(text) else json.dumps(text)


def log_event(event: str, *, request, username: str | None, level: int = logging.INFO, **extra):
    """Write one security event: event, username, client address, path, then `extra`."""
    fields = {
        "event": event,
        "username": username,
        "ip": client_ip(request),
        "path": getattr(request, "path", None),
        **extra,
    }
    message = " ".join(f"{key}={_field(value)}" for key, value in fields.items())
    logger.log(level, "%s", message, extra={"security": fields})


def _username_of(user) -> str | None:
    return user.get_username() if user is not None and user.is_authenticated else None


# --- Signals ----------------------------------------------------------------------------


def on_signed_in(sender, request, user, **kwargs):
    # The start of the session's absolute lifetime (SESSION_MAX_HOURS).
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[SIGNED_IN_AT] = now
        request.session[REFRESHED_AT] = now
    log_event("sign_in", request=request, username=user.get_username())


def on_sign_in_failed(sender, credentials, request=None, **kwargs):
    # Django has already masked the password in `credentials`; only the username is read.
    log_event(
        "sign_in_failed",
        request=request,
        username=credentials.get("username"),
        level=logging.WARNING,
    )


def on_signed_out(sender, request, user, **kwargs):
    if user is None:  # signing out when not signed in
        return
    log_event("sign_out", request=request, username=user.get_username())


def on_locked_out(sender, request, username, **kwargs):
    log_event(
        "sign_in_locked_out",
        request=request,
        username=username,
        level=logging.WARNING,
        failure_limit=settings.AXES_FAILURE_LIMIT,
        lockout_minutes=_lockout_minutes(),
    )


def connect_signals() -> None:
    from axes.signals import user_locked_out

    uid = "vipcases.security"
    user_logged_in.connect(on_signed_in, dispatch_uid=f"{uid}.signed_in")
    user_login_failed.connect(on_sign_in_failed, dispatch_uid=f"{uid}.sign_in_failed")
    user_logged_out.connect(on_signed_out, dispatch_uid=f"{uid}.signed_out")
    user_locked_out.connect(on_locked_out, dispatch_uid=f"{uid}.locked_out")


# --- Middleware -------------------------------------------------------------------------


class SessionLimitMiddleware:
    """Sign out a session SESSION_MAX_HOURS after its sign-in, however active it was, and
    push a signed-in session's idle expiry on, at most once every SESSION_REFRESH_SECONDS.

    The idle limit is SESSION_COOKIE_AGE: the cookie and the stored session expire that
    long after the session was last saved. Saving it on every request
    (SESSION_SAVE_EVERY_REQUEST) would cost an UPDATE of django_session per page, so the
    session is marked modified (saved, its cookie and expiry renewed) only when its last
    refresh is older than SESSION_REFRESH_SECONDS: the idle limit holds to within that.
    A signed-in session with no sign-in time was made before this limit existed, so it is
    ended too. Runs after AuthenticationMiddleware and MessageMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            signed_in_at = request.session.get(SIGNED_IN_AT)
            too_old = (
                not isinstance(signed_in_at, int)
                or time.time() - signed_in_at >= settings.SESSION_MAX_AGE_SECONDS
            )
            if too_old:
                return self._sign_out(request, user)
            self._refresh(request.session)
        return self.get_response(request)

    @staticmethod
    def _refresh(session) -> None:
        now = int(time.time())
        refreshed_at = session.get(REFRESHED_AT)
        if (
            not isinstance(refreshed_at, int)
            or not 0 <= now - refreshed_at < settings.SESSION_REFRESH_SECONDS
        ):
            session[REFRESHED_AT] = now  # marks the session modified: saved after the view

    def _sign_out(self, request, user):
        log_event(
            "session_expired",
            request=request,
            username=user.get_username(),
            max_hours=settings.SESSION_MAX_HOURS,
        )
        request.session.flush()
        request.user = AnonymousUser()
        messages.info(
            request,
            f"You have been signed out because you signed in more than "
            f"{settings.SESSION_MAX_HOURS} hours ago. Sign in again to carry on.",
        )
        return redirect_to_login(request.get_full_path())


class AccessDeniedLogMiddleware:
    """Log every 403 answer: a role check (role_required), a PermissionDenied, a CSRF failure."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 403:
            log_event(
                "access_denied",
                request=request,
                username=_username_of(getattr(request, "user", None)),
                level=logging.WARNING,
                method=request.method,
                reason=getattr(request, "_vipcases_denied_reason", None),
            )
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, PermissionDenied):
            request._vipcases_denied_reason = str(exception) or "permission denied"
        return None


# --- Lockout page -----------------------------------------------------------------------


def _lockout_minutes() -> int:
    return math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)


def lockout_response(request, original_response=None, credentials=None):
    """The page for a locked-out sign-in (AXES_LOCKOUT_CALLABLE): 429 with Retry-After.

    It says the same whether or not the username exists, so it tells an attacker nothing.
    """
    minutes = _lockout_minutes()
    response = render(
        request,
        "registration/locked_out.html",
        {"failure_limit": settings.AXES_FAILURE_LIMIT, "lockout_minutes": minutes},
        status=429,
    )
    response["Retry-After"] = str(minutes * 60)
    return response
