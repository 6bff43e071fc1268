from django.conf import settings

from vipcases import access


def navigation(request):
    """Service name and the navigation items the signed-in user's role allows."""
    user = getattr(request, "user", None)
    items = []
    if user is not None and user.is_authenticated:
        roles = access.user_roles(user)
        path = request.path
        if access.is_caseworker(user) or access.MP_INBOX in roles:
            items.append(("Cases", "/cases/"))
        if access.MP_INBOX in roles or access.is_manager(user):
            items.append(("MP inbox", "/mp-inbox/"))
        if access.is_caseworker(user):
            items.append(("New referral", "/offers/new/"))
        if access.is_manager(user):
            items.append(("Import", "/offers/import/"))
            items.append(("Dashboard", "/dashboard/"))
            items.append(("Settings", "/settings/"))
        items = [
            {"label": label, "href": href, "active": path.startswith(href)} for label, href in items
        ]
    return {"service_name": settings.SERVICE_NAME, "nav_items": items}
