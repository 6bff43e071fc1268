"""The case list's tabs, filters and sort orders, as they appear in the URL.

`CaseFilter` only narrows the queryset it is given: the selector passes the cases the
user may see (vipcases.selectors.cases_visible_to), so no tab or filter value can show
a case outside them. Unknown values are form errors, never a 500 and never "no filter".
"""

import copy
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache, reduce
from operator import or_
from urllib.parse import urlencode

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import QueryDict
from django.urls import get_resolver, get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django_filters.constants import EMPTY_VALUES

from offers.models import Introduction, OfferLine, Supplier
from vipcases import access
from vipcases.codes import Category, IntroducerRole, Queue, Status
from vipcases.keyset import Key, Ordering
from vipcases.models import Case

PAGE_SIZE = 50

# --- tabs ----------------------------------------------------------------------------

OPEN_TAB = "open"
MINE_TAB = "mine"
UNASSIGNED_TAB = "unassigned"


def tabs_for(user) -> list[tuple[str, str]]:
    """(value, label) of the tabs the user's role may see, default first.

    Queue tabs only for queues the role works: caseworkers and managers every casework
    queue; the MP-inbox team its own queue and the closed cases it may see."""
    tabs = [(OPEN_TAB, "Open cases")]
    if access.is_caseworker(user):
        tabs += [(MINE_TAB, "My cases"), (UNASSIGNED_TAB, "Unassigned")]
        tabs += [(queue, Queue(queue).label) for queue in access.CASEWORK_QUEUES]
    elif access.is_mp_inbox(user):
        tabs += [(Queue.MP_INBOX, Queue.MP_INBOX.label), (Queue.CLOSED, Queue.CLOSED.label)]
    return tabs


# --- bands ---------------------------------------------------------------------------

SCORE_BANDS = {"0-39": (0, 39), "40-59": (40, 59), "60-79": (60, 79), "80-100": (80, 100)}
SCORE_CHOICES = [(band, band.replace("-", " to ")) for band in SCORE_BANDS]

# Age in whole days since the offer reached government (as the list shows it).
AGE_BANDS = {"0-2": (0, 2), "3-7": (3, 7), "8-14": (8, 14), "15+": (15, None)}
AGE_CHOICES = [
    ("0-2", "0 to 2 days"),
    ("3-7", "3 to 7 days"),
    ("8-14", "8 to 14 days"),
    ("15+", "15 days or more"),
]

NO_INTRODUCER = "none"
INTRODUCER_CHOICES = [*IntroducerRole.choices, (NO_INTRODUCER, "No introducer")]
UNASSIGNED = "unassigned"
YES_NO = [("yes", "Yes"), ("no", "No")]

# "PPE-000123", "ppe 123", "PPE123" or "123".
REFERENCE = re.compile(r"(?:PPE[-\s]?)?0*(\d{1,15})", re.IGNORECASE)
MAX_ID = 2**63 - 1


# --- sort orders ---------------------------------------------------------------------

PK = Key("pk")
SORTS = {
    "work": Ordering(
        "work", (Key("priority", descending=True), Key("opened_at", kind="datetime"), PK)
    ),
    "oldest": Ordering("oldest", (Key("opened_at", kind="datetime"), PK)),
    "newest": Ordering(
        "newest", (Key("opened_at", descending=True, kind="datetime"), Key("pk", descending=True))
    ),
    "sla": Ordering("sla", (Key("sla_due_at", nullable=True, kind="datetime"), PK)),
    "supplier": Ordering("supplier", (Key("offer__supplier__name", kind="str"), PK)),
    "-supplier": Ordering(
        "-supplier",
        (Key("offer__supplier__name", descending=True, kind="str"), Key("pk", descending=True)),
    ),
}
DEFAULT_SORT = "work"
SORT_CHOICES = [
    ("work", "Work order: highest score, then oldest"),
    ("oldest", "Oldest first"),
    ("newest", "Newest first"),
    ("sla", "SLA due soonest"),
    ("supplier", "Supplier A to Z"),
    ("-supplier", "Supplier Z to A"),
]


@dataclass(frozen=True)
class SortColumn:
    """A sortable column header: the orders it shows, with their aria-sort value, and
    the order a click on it asks for (the other direction when it is already sorted)."""

    name: str
    label: str
    orders: dict[str, str]  # sort value -> aria-sort
    numeric: bool = False
    hidden_label: str = ""  # the rest of the label, for screen readers only

    def aria_sort(self, current: str) -> str:
        return self.orders.get(current, "none")

    def next_sort(self, current: str) -> str:
        values = list(self.orders)
        if current in values and len(values) > 1:
            return values[(values.index(current) + 1) % len(values)]
        return values[0]


SORT_COLUMNS = (
    SortColumn("supplier", "Supplier", {"supplier": "ascending", "-supplier": "descending"}),
    SortColumn("score", "Score", {"work": "descending"}, numeric=True),
    # Oldest first is the longest age first: the column shows age in days.
    SortColumn(
        "age",
        "Age",
        {"oldest": "descending", "newest": "ascending"},
        numeric=True,
        hidden_label=" in days",
    ),
    SortColumn("sla", "SLA due", {"sla": "ascending"}),
)


# --- the URL -------------------------------------------------------------------------

FILTER_PARAMS = (
    "q",
    "queue",
    "status",
    "owner",
    "category",
    "score",
    "age",
    "sla_breached",
    "introducer_role",
)
LIST_PARAMS = ("tab", *FILTER_PARAMS, "sort")
DEFAULTS = {"tab": OPEN_TAB, "sort": DEFAULT_SORT}


class ListQuery:
    """The list's tab, filters and sort as URL parameters, without the page cursor.

    Immutable: each change returns a new one. Empty values and default values are left
    out, so a shared or saved URL holds only what was chosen."""

    def __init__(self, items=()):
        seen = []
        for key, value in items:
            value = str(value).strip()
            if key in LIST_PARAMS and value and DEFAULTS.get(key) != value:
                if (key, value) not in seen:
                    seen.append((key, value))
        self.items = tuple(seen)

    @classmethod
    def from_params(cls, params) -> "ListQuery":
        if hasattr(params, "lists"):
            return cls((key, value) for key, values in params.lists() for value in values)
        return cls(
            (key, value)
            for key, values in (params or {}).items()
            for value in (values if isinstance(values, list | tuple) else [values])
        )

    @classmethod
    def from_string(cls, query: str) -> "ListQuery":
        from django.http import QueryDict

        return cls.from_params(QueryDict(query.lstrip("?")))

    def get(self, key: str) -> str:
        return next((value for k, value in self.items if k == key), DEFAULTS.get(key, ""))

    @property
    def tab(self) -> str:
        return self.get("tab")

    @property
    def sort(self) -> str:
        return self.get("sort")

    def without(self, key: str, value: str | None = None) -> "ListQuery":
        return ListQuery((k, v) for k, v in self.items if not (k == key and value in (None, v)))

    def replaced(self, key: str, value: str) -> "ListQuery":
        return ListQuery([*self.without(key).items, (key, value)])

    def filters_only(self) -> "ListQuery":
        """Tab and sort kept, every filter cleared."""
        return ListQuery((k, v) for k, v in self.items if k not in FILTER_PARAMS)

    def has_filters(self) -> bool:
        return any(k in FILTER_PARAMS for k, _ in self.items)

    def urlencode(self, **extra) -> str:
        return urlencode([*self.items, *((k, v) for k, v in extra.items() if v)])

    def url(self, **extra) -> str:
        """The list's URL with these parameters (and any `extra`, such as a cursor)."""
        query = self.urlencode(**extra)
        return _list_path() + ("?" + query if query else "")

    def __eq__(self, other) -> bool:
        return isinstance(other, ListQuery) and set(self.items) == set(other.items)

    def __hash__(self) -> int:
        return hash(frozenset(self.items))


def _list_path() -> str:
    """reverse("case_list"), which a list page asks for a dozen times and more (tabs,
    sort headers, filter tags, pages), reversed once per URLconf and script prefix."""
    return _reversed_list_path(get_resolver(get_urlconf()), get_script_prefix())


@lru_cache(maxsize=16)
def _reversed_list_path(resolver, prefix: str) -> str:
    return reverse("case_list")


# --- the filter set ------------------------------------------------------------------


class CaseFilterForm(forms.Form):
    """Fields that are not filters: the tab and the sort order."""

    # Neither has a control of its own: an error about them links to the tabs.
    error_anchors = {"tab": "case-lists", "sort": "case-lists"}

    tab = forms.ChoiceField(
        required=False,
        error_messages={"invalid_choice": "Choose a list you can see"},
    )
    sort = forms.ChoiceField(
        required=False,
        label="Sort by",
        choices=SORT_CHOICES,
        error_messages={"invalid_choice": "Choose a sort order from the list"},
    )

    def clean_tab(self):
        return self.cleaned_data["tab"] or OPEN_TAB

    def clean_sort(self):
        return self.cleaned_data["sort"] or DEFAULT_SORT


class _FormFields(dict):
    """The filter form's fields, of which each form (Form.__init__ deep-copies them)
    gets its own copy only of those whose choices it sets: the tab and owner. Nothing
    changes the others after the form class is made (validating and rendering only
    read a field), so every form shares them, sparing a deep copy of each per page."""

    PER_FORM = ("tab", "owner")

    def __deepcopy__(self, memo):
        return {
            name: copy.deepcopy(field, memo) if name in self.PER_FORM else field
            for name, field in self.items()
        }


def _invalid(what: str) -> dict:
    return {"invalid_choice": f"Choose {what} from the list"}


class CaseFilter(django_filters.FilterSet):
    """Filters for the case list. Build it with the cases the user may see:

        CaseFilter(request.GET, queryset=cases_visible_to(user), user=user, owners=[...])

    `owners` are the users offered in the owner filter (one query, made by the caller).
    """

    q = django_filters.CharFilter(
        label="Supplier, company number or reference",
        method="filter_text",
        max_length=100,
    )
    # `field IN (…)` and no DISTINCT (which MultipleChoiceFilter adds by default and
    # which makes the database sort every matching row before the page).
    queue = django_filters.MultipleChoiceFilter(
        label="Queue", choices=Queue.choices, method="filter_in", error_messages=_invalid("a queue")
    )
    status = django_filters.MultipleChoiceFilter(
        label="Status",
        choices=Status.choices,
        method="filter_in",
        error_messages=_invalid("a status"),
    )
    owner = django_filters.ChoiceFilter(
        label="Owner",
        method="filter_owner",
        empty_label="Anyone",
        error_messages=_invalid("an owner"),
    )
    category = django_filters.MultipleChoiceFilter(
        label="Product category",
        choices=Category.choices,
        method="filter_category",
        error_messages=_invalid("a product category"),
    )
    score = django_filters.MultipleChoiceFilter(
        label="Score",
        choices=SCORE_CHOICES,
        method="filter_score",
        error_messages=_invalid("a score band"),
    )
    age = django_filters.MultipleChoiceFilter(
        label="Age",
        choices=AGE_CHOICES,
        method="filter_age",
        error_messages=_invalid("an age band"),
    )
    sla_breached = django_filters.ChoiceFilter(
        label="SLA breached",
        choices=YES_NO,
        method="filter_sla_breached",
        empty_label="Either",
        error_messages={"invalid_choice": "Choose yes or no for SLA breached"},
    )
    introducer_role = django_filters.MultipleChoiceFilter(
        label="Introducer role",
        choices=INTRODUCER_CHOICES,
        method="filter_introducer_role",
        error_messages=_invalid("an introducer role"),
    )

    class Meta:
        model = Case
        fields = list(FILTER_PARAMS)
        form = CaseFilterForm

    def __init__(self, data=None, queryset=None, *, user, owners=(), now: datetime | None = None):
        # Not django-filter's __init__, which deep-copies every declared filter for each
        # instance and then builds a form class from the copies (thousands of Python
        # calls a list page): these filters only call methods of this class, so
        # `filter_queryset` calls those directly, the form class is built once per
        # process, and `filters` is copied only if something asks for it.
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset if queryset is not None else Case.objects.all()
        self.request = None
        self.form_prefix = None
        self.user = user
        self.now = now or timezone.now()
        self.owner_choices = [(UNASSIGNED, "Unassigned")] + [
            (str(person.pk), person.get_full_name() or person.get_username()) for person in owners
        ]
        fields = self.form.fields  # this form's own copies
        fields["owner"].choices = self.owner_choices
        fields["tab"].choices = tabs_for(user)

    @cached_property
    def filters(self) -> dict:
        """The declared filters, bound to this filter set as django-filter's own
        __init__ binds them. Nothing here uses them: made only when asked for."""
        filters = copy.deepcopy(self.base_filters)
        for filter_ in filters.values():
            filter_.model = self.queryset.model
            filter_.parent = self
        filters["owner"].extra["choices"] = self.owner_choices
        return filters

    @classmethod
    def get_form_class(cls):
        """CaseFilterForm with a field per filter, built once per process; the choices
        that depend on the request (tabs, owners) are set on each form's own copies of
        its fields (Form.__init__ deep-copies them)."""
        if "_form_class" not in cls.__dict__:
            filters = copy.deepcopy(cls.base_filters)  # the class's own stay fieldless
            fields = {name: filter_.field for name, filter_ in filters.items()}
            form_class = type(f"{cls.__name__}Form", (cls._meta.form,), fields)
            form_class.base_fields = _FormFields(form_class.base_fields)
            cls._form_class = form_class
        return cls._form_class

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        # The form's tab and sort are not filters; the tab narrows like one.
        queryset = self.filter_tab(queryset, self.form.cleaned_data.get("tab") or OPEN_TAB)
        for name, value in self.form.cleaned_data.items():
            # As each filter's FilterMethod would: no value, no filter.
            if name in FILTER_METHODS and value not in EMPTY_VALUES:
                queryset = getattr(self, FILTER_METHODS[name])(queryset, name, value)
        return queryset

    @property
    def tab(self) -> str:
        """The chosen tab; the default one when it was not a valid choice."""
        self.errors  # noqa: B018 - validates the form, so cleaned_data exists
        return self.form.cleaned_data.get("tab") or OPEN_TAB

    @property
    def sort(self) -> str:
        self.errors  # noqa: B018 - validates the form, so cleaned_data exists
        return self.form.cleaned_data.get("sort") or DEFAULT_SORT

    # -- each filter --

    def filter_tab(self, queryset, tab):
        open_cases = ~Q(status=Status.CLOSED)
        if tab == OPEN_TAB:
            return queryset.filter(open_cases)
        if tab == MINE_TAB:
            return queryset.filter(open_cases, owner=self.user)
        if tab == UNASSIGNED_TAB:
            return queryset.filter(open_cases, owner__isnull=True)
        return queryset.filter(queue=tab)

    def filter_in(self, queryset, name, value):
        return queryset.filter(**{f"{name}__in": value})

    def filter_text(self, queryset, name, value):
        return queryset.filter(text_search(value))

    def filter_owner(self, queryset, name, value):
        if value == UNASSIGNED:
            return queryset.filter(owner__isnull=True)
        return queryset.filter(owner_id=int(value))

    def filter_category(self, queryset, name, value):
        # EXISTS, which PostgreSQL turns into a semi-join. At a million cases it used to
        # hash every line in the category (over 200,000 gown lines) for the capped
        # count; with case_open_offer_idx (open cases by offer, with queue and score)
        # it merges the open cases in the score band with the category's lines in offer
        # order, both read from indexes alone, and stops at the 1,001st match.
        lines = OfferLine.objects.filter(offer_id=OuterRef("offer_id"), category__in=value)
        return queryset.filter(Exists(lines))

    def filter_score(self, queryset, name, value):
        bands = [SCORE_BANDS[band] for band in value]
        return queryset.filter(
            reduce(or_, (Q(priority__gte=low, priority__lte=high) for low, high in bands))
        )

    def filter_age(self, queryset, name, value):
        return queryset.filter(reduce(or_, (self._age_band(band) for band in value)))

    def _age_band(self, band: str) -> Q:
        # Age d in whole days means now - (d + 1) days < opened_at <= now - d days.
        low, high = AGE_BANDS[band]
        condition = Q(opened_at__lte=self.now - timedelta(days=low))
        if high is not None:
            condition &= Q(opened_at__gt=self.now - timedelta(days=high + 1))
        return condition

    def filter_sla_breached(self, queryset, name, value):
        breached = Q(sla_due_at__lt=self.now) & ~Q(status=Status.CLOSED)
        return queryset.filter(breached) if value == "yes" else queryset.exclude(breached)

    def filter_introducer_role(self, queryset, name, value):
        introductions = Introduction.objects.filter(offer_id=OuterRef("offer_id"))
        conditions = []
        roles = [role for role in value if role != NO_INTRODUCER]
        if roles:
            conditions.append(Q(Exists(introductions.filter(introducer__role__in=roles))))
        if NO_INTRODUCER in value:
            conditions.append(~Q(Exists(introductions)))
        return queryset.filter(reduce(or_, conditions))

    # -- what the page shows about them --

    def selected(self, query: ListQuery) -> list[dict]:
        """The chosen filters as MOJ filter tags: a heading per filter, and per value a
        label and the URL of the same list without it."""
        if not self.is_valid():
            return []
        groups = []
        for name in FILTER_PARAMS:
            value = self.form.cleaned_data.get(name)
            if not value:
                continue
            values = value if isinstance(value, list) else [value]
            field = self.form.fields[name]
            labels = dict(getattr(field, "choices", ()))
            order = list(labels)
            values = sorted(values, key=lambda v: order.index(v) if v in order else len(order))
            items = [
                {
                    "text": f"“{v}”" if name == "q" else str(labels.get(v, v)),
                    "href": query.without(name, v).url(),
                }
                for v in values
            ]
            groups.append({"heading": "Search" if name == "q" else field.label, "items": items})
        return groups


# Each filter's method, by the filter's name (its field_name too).
FILTER_METHODS = {name: filter_.method for name, filter_ in CaseFilter.base_filters.items()}
assert all(
    isinstance(method, str) and CaseFilter.base_filters[name].field_name == name
    for name, method in FILTER_METHODS.items()
)


def text_search(text: str) -> Q:
    """Cases whose reference is `text` ("PPE-000123" or "123"), or whose supplier's name
    contains it, or whose supplier's company number starts with it.

    The name is matched on the case itself (Case.supplier_name, which the database keeps
    as the supplier's name, migration 0010), where trigram indexes over open cases and
    over every case find the matches directly. Going through the suppliers instead had
    to visit every offer of every matching supplier, open or closed: at a million cases
    "kestrel" took 190 ms that way. A company number is looked for only if one starts
    with the text (one index probe), so a plain name search stays one condition on the
    case table. With more than one branch they are combined as `pk IN (… UNION ALL …)`
    rather than an OR across the joined tables, so that each can use its own index
    instead of scanning every case."""
    text = text.strip()
    branches = []
    reference = REFERENCE.fullmatch(text)
    if reference and int(reference.group(1)) <= MAX_ID:
        branches.append(Q(pk=int(reference.group(1))))
    # "PPE-000123" is only a reference; "123" may also begin a company number or a name.
    if reference is None or text[0].isdigit():
        branches.append(Q(supplier_name__icontains=text))
        companies = Supplier.objects.filter(company_number__startswith=text.upper())
        if companies.exists():
            branches.append(Q(offer__supplier_id__in=companies.values("pk")))
    if len(branches) == 1:
        return branches[0]
    subqueries = [Case.objects.filter(branch).values("pk") for branch in branches]
    return Q(pk__in=subqueries[0].union(*subqueries[1:], all=True))
