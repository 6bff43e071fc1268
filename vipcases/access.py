"""Who may do what: roles are Django groups, checked on the server for every request.

Views call `role_required` for the page and the selectors in vipcases/selectors.py
for every object, so an outsider gets 403 for a page and 404 for a case it may not see.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from vipcases.codes import Queue

CASEWORKER = "caseworker"
MANAGER = "manager"
MP_INBOX = "mp_inbox"
ROLES = (CASEWORKER, MANAGER, MP_INBOX)

# Queues whose cases each role may see in lists. MP-inbox staff also see any case
# that carries an MP enquiry (read-only unless it is in the MP inbox).
CASEWORK_QUEUES = (Queue.TRIAGE, Queue.VIP, Queue.RAPID_RESPONSE, Queue.MP_INBOX, Queue.CLOSED)


def user_roles(user) -> frozenset[str]:
    """The user's roles, cached on the user object for the request (one query)."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_vipcases_roles", None)
    if cached is None:
        names = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        if user.is_superuser:
            names.add(MANAGER)
        cached = frozenset(names)
        user._vipcases_roles = cached
    return cached


def is_manager(user) -> bool:
    return MANAGER in user_roles(user)


def is_caseworker(user) -> bool:
    """Caseworkers and managers work cases."""
    return bool({CASEWORKER, MANAGER} & user_roles(user))


def is_mp_inbox(user) -> bool:
    return MP_INBOX in user_roles(user)


def can_see_restricted(user) -> bool:
    return is_caseworker(user)


def role_required(*roles: str) -> Callable:
    """Login, then one of `roles` (managers pass any caseworker check), else 403."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            have = user_roles(request.user)
            wanted = set(roles)
            if CASEWORKER in wanted:
                wanted.add(MANAGER)
            if not have & wanted:
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
