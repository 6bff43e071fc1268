"""`{% case_actions %}`: the case page's "Actions" area.

The case page's view and context belong to vipcases/views.py; this tag adds the
actions without changing them. What is offered comes from vipcases.case_permissions
(through vipcases.action_views.case_actions_context); the services enforce it.
"""

from django import template

from vipcases.action_views import case_actions_context

register = template.Library()


@register.inclusion_tag("cases/_actions.html", takes_context=True)
def case_actions(context) -> dict:
    return case_actions_context(
        context["request"].user, context["case"], scored=context.get("assessment") is not None
    )
