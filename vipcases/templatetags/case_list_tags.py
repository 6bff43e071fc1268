"""The case list's repeated markup: its table rows and the options of its filters.

`{% case_list_rows rows is_manager %}`, `{% checkbox_items options name %}` and
`{% select_options options %}` fill their markup in with str.format rather than the
template engine: 50 rows of a dozen cells each, and some fifty filter options, every
value resolved, escaped and wrapped by the engine, were most of the page's time. The
markup is the GOV.UK markup the templates had; every value is escaped here as the
engine escapes it (html.escape is what django.utils.html.escape calls). The view
prepares the strings (vipcases.views._case_list_rows and _choice_options).
"""

from html import escape

from django import template
from django.utils.safestring import SafeString

register = template.Library()

_SELECT_CELL = """
            <td class="govuk-table__cell app-select-cell">
              <div class="govuk-checkboxes__item govuk-checkboxes--small moj-multi-select__checkbox">
                <input class="govuk-checkboxes__input" type="checkbox" id="select-{pk}" name="cases" value="{pk}"{checked}>
                <label class="govuk-label govuk-checkboxes__label" for="select-{pk}"><span class="govuk-visually-hidden">Select {reference}</span></label>
              </div>
            </td>
            """

_ROW = """
          <tr class="govuk-table__row">
            {select_cell}
            <th scope="row" class="govuk-table__header app-nowrap"><a class="govuk-link" href="{href}">{reference}</a></th>
            <td class="govuk-table__cell app-supplier-cell">
              {supplier}
              <span class="app-secondary-text">{categories}</span>
              <span class="app-secondary-text">Introduced by: {introduced_by}</span>
            </td>
            <td class="govuk-table__cell">
              <span class="moj-badge {badge_class}">{queue}</span>
              <span class="app-secondary-text">{status}</span>
            </td>
            <td class="govuk-table__cell govuk-table__cell--numeric">{score}</td>
            <td class="govuk-table__cell">{owner}</td>
            <td class="govuk-table__cell govuk-table__cell--numeric">{age_days}</td>
            <td class="govuk-table__cell app-nowrap">
              {sla_due}
            </td>
          </tr>
          """

_SLA_DUE = """
              <time datetime="{iso}">{date}</time>
              {overdue}
              """
_OVERDUE = '<br><strong class="govuk-tag govuk-tag--red">Overdue</strong>'
_SLA_NOT_SET = """
              Not set
              """
_NOT_SCORED = (
    '<span class="govuk-visually-hidden">Not scored yet</span><span aria-hidden="true">–</span>'
)


@register.simple_tag
def case_list_rows(rows: list[dict], is_manager: bool) -> SafeString:
    """The <tr> of each row; managers get a checkbox per row to select it."""
    html = []
    for row in rows:
        reference = escape(row["reference"])
        select_cell = (
            _SELECT_CELL.format(
                pk=escape(row["pk"]),
                reference=reference,
                checked=" checked" if row["ticked"] else "",
            )
            if is_manager
            else ""
        )
        sla_due = (
            _SLA_DUE.format(
                iso=escape(row["sla_due_iso"]),
                date=escape(row["sla_due"]),
                overdue=_OVERDUE if row["overdue"] else "",
            )
            if row["sla_due"]
            else _SLA_NOT_SET
        )
        html.append(
            _ROW.format(
                select_cell=select_cell,
                href=escape(row["href"]),
                reference=reference,
                supplier=escape(row["supplier"]),
                categories=escape(row["categories"]),
                introduced_by=escape(row["introduced_by"]),
                badge_class=escape(row["badge_class"]),
                queue=escape(row["queue"]),
                status=escape(row["status"]),
                score=_NOT_SCORED if row["score"] is None else escape(row["score"]),
                owner=escape(row["owner"]) if row["owner"] else "Unassigned",
                age_days=escape(row["age_days"]),
                sla_due=sla_due,
            )
        )
    return SafeString("".join(html))


_CHECKBOX_ITEM = """
      <div class="govuk-checkboxes__item">
        <input class="govuk-checkboxes__input" id="{id}" name="{name}" type="checkbox" value="{value}"{checked}>
        <label class="govuk-label govuk-checkboxes__label" for="{id}">{label}</label>
      </div>
      """


@register.simple_tag
def checkbox_items(options: list[dict], name: str) -> SafeString:
    """A GOV.UK small checkbox for each option of the filter `name`."""
    name = escape(name)
    return SafeString(
        "".join(
            _CHECKBOX_ITEM.format(
                id=escape(option["id"]),
                name=name,
                value=escape(option["value"]),
                checked=" checked" if option["ticked"] else "",
                label=escape(option["label"]),
            )
            for option in options
        )
    )


@register.simple_tag
def select_options(options: list[dict]) -> SafeString:
    """The <option> of each option of a select."""
    return SafeString(
        "".join(
            f'<option value="{escape(option["value"])}"'
            f"{' selected' if option['selected'] else ''}>{escape(option['label'])}</option>"
            for option in options
        )
    )
