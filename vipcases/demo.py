"""Invented demo data: suppliers, introducers, offers and three weeks of casework.

Used by `python manage.py seed_demo` (vipcases/management/commands/seed_demo.py).
Every name here is invented; phone numbers are in Ofcom's ranges reserved for drama
and e-mail domains end in `.example`, so nothing points at a real person or company.

Two modes:
- `demo_seed`: what the VIP team had in late April 2020, at the scale of one team:
  20–30 offers a day for three weeks, triaged as they arrived, and about 300 cases in
  train being worked through the case services (vipcases/services.py).
- `scale_seed`: N cases for load and performance work, written with bulk inserts in
  batches (one transaction per batch), then triaged; no simulated casework.

Everything is reproducible from the seed of the `random.Random` passed in, except the
dates, which are placed relative to the time of the run.
"""

import functools
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from unittest import mock

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from offers.models import Introducer, Introduction, Offer, OfferLine, Supplier
from offers.money import offer_value_gbp, price_in_gbp
from vipcases import access, services
from vipcases.bulk import insert_all
from vipcases.codes import (
    GBP_RATES,
    Category,
    Channel,
    DueDiligence,
    EnquiryStatus,
    EventKind,
    IntroducerRole,
    Outcome,
    Queue,
    Status,
    StockLocation,
    StrapType,
    lead_introducer_role,
)
from vipcases.events import events_append
from vipcases.models import Case, CaseEvent, Handover, MPEnquiry

Log = Callable[[str], None]

BATCH_SIZE = 5_000  # cases per transaction at scale
TRIAGE_CHUNK = 5_000  # cases per call to cases_triage at scale (it batches again inside)
DEMO_DAYS = 21
DEMO_OFFERS_PER_DAY = (20, 30)
DEMO_INTRODUCED_SHARE = 0.55
DEMO_TARGET_IN_TRAIN = 300
SCALE_WEEKS = 14
SCALE_INTRODUCED_SHARE = 0.4


# --- demo users -------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str  # a group name from vipcases/access.py, or "admin"
    first_name: str
    last_name: str


DEMO_USERS = (
    DemoUser("caseworker", access.CASEWORKER, "Casey", "Demo"),
    DemoUser("cw.amara", access.CASEWORKER, "Amara", "Nwachukwu-Hale"),
    DemoUser("cw.joel", access.CASEWORKER, "Joel", "Barraclough-Finch"),
    DemoUser("cw.nadia", access.CASEWORKER, "Nadia", "Ferreira-Lowe"),
    DemoUser("cw.tomasz", access.CASEWORKER, "Tomasz", "Wierzbowski"),
    DemoUser("manager", access.MANAGER, "Morgan", "Demo"),
    DemoUser("mpinbox", access.MP_INBOX, "Robin", "Demo"),
    DemoUser("admin", "admin", "Alex", "Demo"),
)
DEMO_USERNAMES = tuple(d.username for d in DEMO_USERS)
# Some caseworkers carry more cases than others, so "load per caseworker" shows something.
CASEWORKER_LOAD = {"cw.amara": 30, "cw.joel": 24, "cw.nadia": 20, "caseworker": 15, "cw.tomasz": 11}


def demo_users_ensure(*, password: str) -> set[str]:
    """Create the demo users that are missing and return their usernames; existing
    users are left exactly as they are (no password reset). Raises LookupError if the
    role groups (made by migration vipcases 0002_roles) are missing.

    The password is hashed once and the hash shared by the new accounts: hashing is
    slow by design, and these accounts exist for demonstrations only.
    """
    user_model = get_user_model()
    existing = set(
        user_model.objects.filter(username__in=DEMO_USERNAMES).values_list("username", flat=True)
    )
    missing = [d for d in DEMO_USERS if d.username not in existing]
    if not missing:
        return set()
    groups = {g.name: g for g in Group.objects.filter(name__in=access.ROLES)}
    absent = sorted({d.role for d in missing if d.role != "admin"} - set(groups))
    if absent:
        raise LookupError(f"The role groups {', '.join(absent)} are missing: run migrate first.")
    hashed = make_password(password)
    for demo in missing:
        is_admin = demo.role == "admin"
        user = user_model.objects.create(
            username=demo.username,
            first_name=demo.first_name,
            last_name=demo.last_name,
            email=f"{demo.username}@vipcases.example",
            password=hashed,
            is_staff=is_admin,
            is_superuser=is_admin,
        )
        if not is_admin:
            user.groups.add(groups[demo.role])
    return {d.username for d in missing}


def demo_users_loaded() -> dict | None:
    """The demo users by username, or None unless every one the casework needs exists."""
    users = {u.username: u for u in get_user_model().objects.filter(username__in=DEMO_USERNAMES)}
    return users if {*CASEWORKER_LOAD, "manager", "mpinbox"} <= set(users) else None


def demo_logins(*, password: str) -> list[tuple[str, str, str]]:
    """(username, role, password as shown) for each demo user that exists. The password
    is shown only while it still is `password`; the demo users share one hash, so one
    check usually does for all of them."""
    users = {u.username: u for u in get_user_model().objects.filter(username__in=DEMO_USERNAMES)}
    matches: dict[str, bool] = {}
    rows = []
    for demo in DEMO_USERS:
        user = users.get(demo.username)
        if user is None:
            continue
        if user.password not in matches:
            matches[user.password] = check_password(password, user.password)
        shown = password if matches[user.password] else "(not the demo password; not shown)"
        rows.append((demo.username, demo.role, shown))
    return rows


# --- vocabulary (all invented) ------------------------------------------------------------

# fmt: off
PLACE_WORDS = (
    "Harbourside", "Kestrel", "Northgate", "Meridian", "Foxglove", "Larkspur", "Ashcombe",
    "Brightwater", "Calderbrook", "Dunmore", "Elmstead", "Fairhaven", "Greystone", "Hollybank",
    "Juniper", "Kingfisher", "Lowmoor", "Millbrook", "Netherfield", "Oakridge", "Pennant",
    "Quayside", "Redwood", "Saltmarsh", "Thornvale", "Upland", "Valewood", "Wrenfield",
    "Yarrow", "Albion", "Beacon", "Cobalt", "Everley", "Falcon", "Granite", "Heron", "Ivywell",
    "Jubilee", "Keystone", "Lindenfield", "Marlin", "Orchard", "Pinnacle", "Riverside",
    "Sterling", "Tidewater", "Vantage", "Westbrook", "Bluebell", "Crescent", "Dovecote",
    "Eastgate", "Fernhill", "Goldcrest", "Hawthorn", "Ironstone", "Kittiwake", "Lanyard",
    "Moorhen", "Nightjar",
)
ESTABLISHED_WORDS = (
    "Medical Supplies", "Protective Wear", "Healthcare", "Clinical Supplies", "Surgical",
    "Safety Products", "Hygiene", "Medical", "Care Supplies", "Healthcare Distribution",
)
PIVOT_WORDS = (
    "Trading", "Wholesale", "Catering Supplies", "Janitorial", "Logistics", "Imports",
    "Workwear", "Industrial Supplies", "Packaging", "Office Supplies",
)
NEW_WORDS = (
    "Ventures", "Consulting", "Solutions", "Global", "Commerce", "Resources", "Enterprises",
    "Capital", "Partners", "Holdings", "Strategies", "Projects",
)
UK_FORMS = ("Ltd", "Ltd", "Ltd", "Limited", "UK Ltd", "Group Ltd", "& Co Ltd", "LLP")
PIVOT_TRADES = (
    "catering equipment", "janitorial supplies", "office furniture", "event staging", "car parts",
)
NEW_DIRECTOR_TRADES = (
    "property", "hospitality", "pest control", "financial advice", "recruitment",
)


@dataclass(frozen=True)
class Country:
    name: str
    stems: tuple[str, ...]
    products: tuple[str, ...]
    legal_form: str
    currencies: tuple[str, ...]
    registration: tuple[str, int]  # prefix and number of digits
    weight: int


OVERSEAS = {
    "CN": Country("China", ("Hengkang", "Meiling", "Anxin", "Ruida", "Jiahe", "Boyuan", "Kangtai"),
                  ("Medical Products", "Protective Equipment", "Health Technology"),
                  "Co., Ltd.", ("USD", "USD", "CNY"), ("91", 16), 40),
    "TR": Country("Turkey", ("Anadolu", "Egeli", "Marmara Kiyi", "Toroslar"),
                  ("Tekstil Medikal", "Saglik Urunleri", "Koruyucu Giyim"),
                  "A.S.", ("EUR", "TRY"), ("TR-MERSIS-", 16), 12),
    "MY": Country("Malaysia", ("Selangor Prima", "Klang Valley", "Perak Sentosa"),
                  ("Glove Industries", "Latex Products", "Rubber Products"),
                  "Sdn. Bhd.", ("USD",), ("MY-SSM-", 12), 10),
    "VN": Country("Vietnam", ("Saigon Phuong", "Mekong Viet", "Da Nang Hoa"),
                  ("Protective Garment", "Medical Textile"),
                  "JSC", ("USD",), ("VN-ERC-", 10), 8),
    "IN": Country("India", ("Kaveri", "Narmada", "Deccan", "Malabar"),
                  ("Healthcare", "Surgicals", "Medi-Tex"),
                  "Pvt Ltd", ("USD",), ("IN-CIN-U", 14), 8),
    "PK": Country("Pakistan", ("Sialkot Crescent", "Indus Valley"),
                  ("Surgical Works", "Medical Instruments"),
                  "(Pvt) Ltd", ("USD",), ("PK-SECP-", 7), 5),
    "DE": Country("Germany", ("Rheinfeld", "Elbtal", "Moselhof"),
                  ("Medizintechnik", "Schutzausrüstung", "Hygienebedarf"),
                  "GmbH", ("EUR",), ("DE-HRB-", 6), 6),
    "PT": Country("Portugal", ("Vale do Ave", "Ribeira Alta", "Costa Verde"),
                  ("Têxteis Médicos", "Confecções Hospitalares"),
                  "Lda.", ("EUR",), ("PT-NIPC-", 9), 5),
    "AE": Country("the United Arab Emirates", ("Gulf Crescent", "Al Noor Horizon"),
                  ("General Trading", "Medical Trading"),
                  "FZE", ("USD",), ("AE-JAFZA-", 6), 6),
}

FIRST_NAMES = (
    "Alistair", "Beatrice", "Cedric", "Delphine", "Edmund", "Fenella", "Gareth", "Harriet",
    "Imogen", "Jasper", "Kirsty", "Lachlan", "Marguerite", "Nigel", "Olwen", "Peregrine",
    "Rosalind", "Tobias", "Ursula", "Victor", "Wilhelmina", "Yusuf", "Zara", "Anjali",
    "Bronwen", "Callum", "Dervla", "Emeka", "Farida", "Gideon", "Hamish", "Isla", "Jonah",
    "Keziah", "Leontine", "Morwenna", "Niall", "Orla", "Priya", "Rufus", "Saoirse", "Tamsin",
)
SURNAMES = (
    "Ashdown-Pryce", "Belcourt", "Carrowmore", "Dunsfold", "Elderkin", "Fairbrass",
    "Gillingwater", "Hartigan", "Ingleby", "Jessop-Vane", "Kilbride", "Lockhart-Ross",
    "Merriweather", "Nettleford", "Ormesby", "Pettigrew", "Quennell", "Summerhayes",
    "Underhill", "Vellacott", "Westmacott", "Yelland", "Abernethy", "Blencowe", "Corbishley",
    "Dimmock", "Eskdale", "Fennimore", "Gorringe", "Haverstock", "Illingworth", "Jephcott",
    "Kettlewell", "Lumsden", "Mottram", "Nuttall", "Penhallow", "Quarrie", "Ravensworth",
    "Stainforth", "Uttley", "Varley", "Wickstead", "Thistlewood",
)
CONSTITUENCIES = (
    "Westford", "Ashcombe and Lowmoor", "Brackenfield", "North Calderbrook", "Dunmore Vale",
    "East Elmstead", "Fairhaven South", "Greystone", "Hollybank and Redwood", "Kestrel Downs",
    "Millbrook Central", "Netherfield West", "Oakridge", "Pennant Heights", "Saltmarsh",
    "Tidewater", "Upland Moors", "Wrenfield", "Yarrowdale", "South Thornvale", "Marshcombe",
    "Lindenfield and Bray", "Hawthorn Edge", "Goldcrest Bay",
)
MINISTER_OFFICES = (
    "Minister of State for Resilience",
    "Minister of State for Supply Chain Preparedness",
    "Parliamentary Under-Secretary of State for Health Procurement",
    "Secretary of State for Preparedness",
    "Minister for Domestic Manufacturing",
    "Parliamentary Under-Secretary of State for Trade Resilience",
)
OFFICIAL_OFFICES = (
    "Director General, Supply Resilience Directorate",
    "Deputy Permanent Secretary, Department for Preparedness",
    "Chief Commercial Officer, Crown Procurement Office",
    "Principal Private Secretary to the Secretary of State for Preparedness",
    "Director, Critical Supplies Programme",
    "Deputy Director, Health Logistics",
)
OTHER_OFFICES = (
    "Leader, {place} Borough Council",
    "Chair, {place} Chamber of Commerce",
    "Special adviser to the Minister of State for Resilience",
    "Chief Executive, {place} Enterprise Partnership",
    "Mayor of {place}",
)
# (declared relationship, conflict-of-interest notes)
RELATIONSHIPS = (
    ("constituent business", ""),
    ("constituent business", ""),
    ("none declared", ""),
    ("none declared", ""),
    ("met the director at a trade event", ""),
    ("former colleague of a director", ""),
    ("friend of a director", "The introducer says they have no financial interest in the supplier."),
    ("a family member is a director",
     "Declared: the introducer's brother-in-law is a director of the supplier. The introducer "
     "has been told the offer is assessed like any other."),
    ("previously a paid adviser to the supplier",
     "Declared: a paid advisory role that ended in 2019; no current financial interest."),
)
# fmt: on


# --- products -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    benchmark: Decimal  # GBP per unit, as in the starting clinical-need table
    quantity: tuple[int, int]  # range of units offered (log-uniform)
    descriptions: tuple[str, ...]
    good_standards: tuple[tuple[str, ...], ...]  # as suppliers write them
    wrong_standards: tuple[tuple[str, ...], ...]
    notified_body: bool = True  # does a good certificate name a notified body?
    weight: int = 10  # share of offer lines


# fmt: off
PRODUCTS = {
    Category.FFP3_RESPIRATOR: Product(
        Decimal("2.50"), (50_000, 10_000_000),
        ("FFP3 respirator, cup-shaped, valved, head straps",
         "FFP3 fold-flat respirator, unvalved, head harness",
         "FFP3 respirator, valved, head straps, individually wrapped"),
        (("EN 149:2001+A1:2009 FFP3",), ("EN149 FFP3 NR",), ("EN 149:2001+A1:2009 FFP3 NR D",),
         ("BS EN 149:2001+A1:2009", "FFP3")),
        (("KN95 GB2626-2006",), ("NIOSH N95",), ("EN 149 FFP2",)),
        weight=15,
    ),
    Category.FFP2_RESPIRATOR: Product(
        Decimal("1.20"), (50_000, 20_000_000),
        ("FFP2 respirator, fold-flat, head straps", "FFP2 respirator, cup-shaped, unvalved",
         "FFP2 respirator, valved, head harness"),
        (("EN149 FFP2",), ("EN 149:2001+A1:2009 FFP2",), ("EN 149:2001+A1:2009 FFP2 NR",)),
        (("KN95",), ("GB2626-2006 KN95",), ("FDA registered",)),
        weight=11,
    ),
    Category.IIR_MASK: Product(
        Decimal("0.30"), (100_000, 50_000_000),
        ("Type IIR surgical mask, 3-ply, ear loops", "Type IIR fluid-resistant surgical mask, ties",
         "Fluid-resistant surgical mask Type IIR, blue, boxes of 50"),
        (("EN 14683:2019 Type IIR",), ("EN14683 IIR",), ("EN 14683:2019+AC:2019 Type IIR",)),
        (("EN 14683 Type II",), ("YY 0469-2011",), ("EN 14683 Type I",)),
        notified_body=False, weight=14,
    ),
    Category.GOWN: Product(
        Decimal("4.50"), (20_000, 5_000_000),
        ("Isolation gown, fluid resistant, long sleeves, non-sterile",
         "Surgical gown, SMS, reinforced", "Disposable coverall, Type 4/5/6, with hood",
         "Fluid-resistant gown, polypropylene/PE laminate, thumb loops"),
        (("EN 13795-1",), ("EN 14126",), ("EN 13795-1:2019", "EN 14126"), ("EN ISO 13795-1",)),
        (("AAMI PB70 Level 3",), ("ISO 9001:2015",), ("ANSI/AAMI Level 2",)),
        weight=15,
    ),
    Category.GLOVES: Product(
        Decimal("0.08"), (500_000, 50_000_000),
        ("Nitrile examination gloves, powder-free, blue", "Latex examination gloves, powdered",
         "Vinyl examination gloves, powder-free", "Nitrile examination gloves, extended cuff"),
        (("EN 455-1/2/3",), ("EN 455-1", "EN 455-2", "EN 455-3", "EN ISO 374-5"), ("EN455",)),
        (("ASTM D6319",), ("FDA 510(k)",), ("EN 420",)),
        notified_body=False, weight=12,
    ),
    Category.APRON: Product(
        Decimal("0.05"), (100_000, 20_000_000),
        ("Disposable polythene aprons, white, on a roll", "Aprons, blue, 16 micron, boxed"),
        ((), ("EN 13034",)), ((),),
        notified_body=False, weight=6,
    ),
    Category.EYE_PROTECTION: Product(
        Decimal("1.50"), (10_000, 5_000_000),
        ("Full-face visor, anti-fog, reusable frame", "Safety goggles, indirect vent",
         "Safety spectacles, wraparound"),
        (("EN 166",), ("EN 166:2001 3 B",), ("EN166",)),
        (("ANSI Z87.1",), ("ISO 9001:2015",)),
        weight=9,
    ),
    Category.HAND_SANITISER: Product(
        Decimal("3.00"), (10_000, 2_000_000),
        ("Hand sanitiser gel, 70% ethanol, 500 ml pump", "Alcohol hand rub, WHO formulation, 500 ml",
         "Hand sanitiser, 80% alcohol, 5 litre (priced per 500 ml)"),
        (("EN 1500",), ("EN 14476",), ("EN 1500", "EN 14476")),
        (("ISO 9001:2015",), ()),
        notified_body=False, weight=7,
    ),
    Category.BODY_BAG: Product(
        Decimal("12.00"), (10_000, 300_000),
        ("Body bag, heavy duty, six handles, zip", "Body bag, PEVA, white, with ID window"),
        ((),), ((),),
        notified_body=False, weight=5,
    ),
    Category.OTHER: Product(
        Decimal("2.00"), (10_000, 1_000_000),
        ("Infrared non-contact thermometers", "Disinfectant wipes, packs of 100",
         "Shoe covers, non-woven", "Bouffant hair caps"),
        ((),), ((),),
        notified_body=False, weight=3,
    ),
}
# fmt: on
NOTIFIED_BODIES = ("CE 2797", "CE 0086", "CE 0123", "CE 0598", "CE 2163", "CE 0194", "CE 1463")
SELF_DECLARED = ("CE (self-declared, Class I)", "Declaration of conformity, CE marked")
BOGUS_CERTIFICATES = (
    "CE",
    "CE marked",
    "ISO 9001:2015 certificate",
    "Test report SGS-SH-2020-0117",
    "FDA registration 3016XXXX",
    "CE certificate to follow",
    "Certificate of compliance (ECM)",
)
STERILISATION_VALIDATIONS = (
    "ISO 11137-2 dose audit",
    "EN ISO 11135 ethylene oxide, validated cycle",
)
LEAD_TIMES = {
    StockLocation.UK: (1, 7),
    StockLocation.IN_TRANSIT: (7, 21),
    StockLocation.OVERSEAS: (10, 35),
    StockLocation.NOT_YET_MANUFACTURED: (21, 70),
}


# --- suppliers, lines, introducers, offers --------------------------------------------------

ESTABLISHED, PIVOT, NEW, OVERSEAS_MAKER = "established", "pivot", "new", "overseas"
SUPPLIER_KINDS = {ESTABLISHED: 34, PIVOT: 16, NEW: 20, OVERSEAS_MAKER: 30}
# How good each kind of supplier's paperwork is: odds of (good, wrong, missing)
# standards and of (notified body, bogus, missing) certificates.
PAPERWORK = {
    ESTABLISHED: ((92, 6, 2), (88, 8, 4)),
    PIVOT: ((74, 16, 10), (50, 32, 18)),
    NEW: ((62, 22, 16), (34, 38, 28)),
    OVERSEAS_MAKER: ((85, 11, 4), (72, 20, 8)),
}
DUE_DILIGENCE = {
    ESTABLISHED: {
        DueDiligence.PASSED: 75,
        DueDiligence.IN_PROGRESS: 20,
        DueDiligence.NOT_STARTED: 5,
    },
    PIVOT: {
        DueDiligence.NOT_STARTED: 40,
        DueDiligence.IN_PROGRESS: 38,
        DueDiligence.PASSED: 14,
        DueDiligence.FAILED: 8,
    },
    NEW: {DueDiligence.NOT_STARTED: 45, DueDiligence.IN_PROGRESS: 30, DueDiligence.FAILED: 25},
    OVERSEAS_MAKER: {
        DueDiligence.PASSED: 40,
        DueDiligence.IN_PROGRESS: 30,
        DueDiligence.NOT_STARTED: 20,
        DueDiligence.FAILED: 10,
    },
}
INTRODUCER_ROLE_WEIGHTS = {
    IntroducerRole.MP: 40,
    IntroducerRole.MINISTER: 15,
    IntroducerRole.PEER: 15,
    IntroducerRole.SENIOR_OFFICIAL: 20,
    IntroducerRole.OTHER: 10,
}


def _weighted(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(SURNAMES)


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())[:24] or "supplier"


def _uk_phone(rng: random.Random) -> str:
    # Ofcom keeps these ranges for drama: they reach nobody.
    pattern = rng.choice(("020 7946 0{:03d}", "0113 496 0{:03d}", "07700 900{:03d}"))
    return pattern.format(rng.randrange(1000))


def _date(rng: random.Random, first_year: int, last_year: int) -> date:
    return date(rng.randint(first_year, last_year), rng.randint(1, 12), rng.randint(1, 28))


def supplier_build(
    rng: random.Random, *, window_start: date, used_names: set[str] | None = None
) -> Supplier:
    """An unsaved, invented supplier with a plausible history. With `used_names`, names
    are kept unique (the demo); at scale a repeated name is harmless."""
    kind = _weighted(rng, SUPPLIER_KINDS)
    country = (
        "GB"
        if kind != OVERSEAS_MAKER
        else _weighted(rng, {code: c.weight for code, c in OVERSEAS.items()})
    )
    registration = ""
    for _attempt in range(20):
        if kind == OVERSEAS_MAKER:
            c = OVERSEAS[country]
            name = f"{rng.choice(c.stems)} {rng.choice(c.products)} {c.legal_form}"
        else:
            words = {ESTABLISHED: ESTABLISHED_WORDS, PIVOT: PIVOT_WORDS, NEW: NEW_WORDS}[kind]
            name = f"{rng.choice(PLACE_WORDS)} {rng.choice(words)} {rng.choice(UK_FORMS)}"
        if used_names is None or name not in used_names:
            break
    if used_names is not None:
        used_names.add(name)

    number = ""
    if kind == ESTABLISHED:
        incorporated = _date(rng, 1984, 2013)
        number = f"{rng.randint(1_000_000, 8_999_999):08d}"
        history = True
        notes = (
            "Distributes PPE and clinical consumables to NHS trusts and care homes since "
            f"{incorporated.year + rng.randint(0, 4)}; audited accounts filed every year."
        )
    elif kind == PIVOT:
        incorporated = _date(rng, 1998, 2018)
        number = f"{rng.randint(3_000_000, 11_999_999):08d}"
        history = False
        notes = (
            f"Usually trades in {rng.choice(PIVOT_TRADES)}; first offer of PPE, sourced "
            "through a contact overseas."
        )
    elif kind == NEW:
        incorporated = window_start - timedelta(days=rng.randint(5, 60))
        number = f"{rng.randint(12_400_000, 12_599_999):08d}"
        history = False
        notes = (
            f"Incorporated on {incorporated:%d %B %Y}; no accounts filed and no trading "
            "history in PPE or medical goods. The director's previous company was in "
            f"{rng.choice(NEW_DIRECTOR_TRADES)}."
        )
    else:
        incorporated = _date(rng, 1992, 2016)
        prefix, digits = OVERSEAS[country].registration
        registration = prefix + "".join(rng.choice("0123456789") for _ in range(digits))
        history = rng.random() < 0.85
        audit = "; factory audit report supplied" if rng.random() < 0.5 else ""
        notes = (
            f"Manufacturer in {OVERSEAS[country].name} since {incorporated.year}; exports "
            f"{'PPE' if history else 'textiles'} to distributors in Europe{audit}."
        )
    first, last = _person(rng)
    supplier = Supplier(
        name=name,
        company_number=number,
        overseas_registration=registration,
        country=country,
        contact_name=f"{first} {last}",
        contact_email=f"{first.lower()}.{_slug(last)}@{_slug(name)}.example",
        contact_phone=_uk_phone(rng) if country == "GB" else "",
        incorporated_on=incorporated,
        ppe_trading_history=history,
        trading_history_notes=notes,
        due_diligence_status=_weighted(rng, DUE_DILIGENCE[kind]),
    )
    supplier.demo_kind = kind  # not a field: shapes this supplier's offers below
    return supplier


def _quantity(rng: random.Random, low: int, high: int) -> int:
    raw = math.exp(rng.uniform(math.log(low), math.log(high)))
    step = 10 ** max(0, int(math.log10(raw)) - 1)  # two significant figures, as people write
    return max(10_000, min(50_000_000, round(raw / step) * step))


def _price(value: float) -> Decimal:
    places = 2 if value >= 1 else 3 if value >= 0.1 else 4
    return Decimal(f"{value:.{places}f}")


def line_build(rng: random.Random, supplier: Supplier, category: str | None = None) -> OfferLine:
    """An unsaved, invented offer line, shaped by the kind of supplier offering it."""
    kind = getattr(supplier, "demo_kind", ESTABLISHED)
    category = category or _weighted(rng, {c: p.weight for c, p in PRODUCTS.items()})
    product = PRODUCTS[category]
    description = rng.choice(product.descriptions)
    standards_odds, certificate_odds = PAPERWORK[kind]

    paperwork = rng.choices(("good", "wrong", "missing"), weights=standards_odds)[0]
    if paperwork == "good":
        standards = list(rng.choice(product.good_standards))
    elif paperwork == "wrong":
        standards = list(rng.choice(product.wrong_standards))
    else:
        standards = []
    paperwork = rng.choices(("good", "bogus", "missing"), weights=certificate_odds)[0]
    if paperwork == "good":
        bodies = NOTIFIED_BODIES if product.notified_body else NOTIFIED_BODIES + SELF_DECLARED
        certificate = rng.choice(bodies)
    else:
        certificate = rng.choice(BOGUS_CERTIFICATES) if paperwork == "bogus" else ""

    strap_type = ""
    if category in (Category.FFP3_RESPIRATOR, Category.FFP2_RESPIRATOR):
        # Ear loops fail face-fit testing; some offers in 2020 came with them anyway.
        strap_type = StrapType.EAR_LOOP if rng.random() < 0.15 else StrapType.HEAD
        if strap_type == StrapType.EAR_LOOP:
            description = description.split(",")[0] + ", ear loops"
    sterile, validation = False, ""
    if category == Category.GOWN and "non-sterile" not in description and rng.random() < 0.5:
        sterile = True
        description = f"Sterile {description[0].lower()}{description[1:]}"
        # About a third of the "sterile" gowns had no validated process behind the claim.
        if rng.random() < 0.65:
            validation = rng.choice(STERILISATION_VALIDATIONS)

    gbp = float(product.benchmark) * math.exp(rng.gauss(0.05, 0.3))
    roll = rng.random()
    if roll < 0.03:
        gbp = float(product.benchmark) * rng.uniform(4.5, 5.5)  # an extreme price
    elif roll < 0.05:
        gbp = float(product.benchmark) * rng.uniform(0.08, 0.12)  # too cheap to be genuine
    if supplier.country == "GB":
        currency = "USD" if rng.random() < 0.12 else "GBP"
    else:
        currency = rng.choice(OVERSEAS[supplier.country].currencies)
    price = None if rng.random() < 0.04 else _price(gbp / float(GBP_RATES[currency]))

    odds = (40, 22, 23, 15) if supplier.country == "GB" else (4, 22, 48, 26)
    location = rng.choices(list(LEAD_TIMES), weights=odds)[0]
    return OfferLine(
        category=category,
        description=description,
        quantity=_quantity(rng, *product.quantity),
        unit_price=price,
        currency=currency,
        standards=standards,
        certificate=certificate,
        strap_type=strap_type,
        sterile=sterile,
        sterilisation_validation=validation,
        stock_location=location,
        lead_time_days=rng.randint(*LEAD_TIMES[location]),
    )


def introducer_build(rng: random.Random, role: str | None = None) -> Introducer:
    """An unsaved, invented introducer: a minister, an MP, a peer, an official or other."""
    role = role or _weighted(rng, INTRODUCER_ROLE_WEIGHTS)
    first, last = _person(rng)
    place = rng.choice(CONSTITUENCIES)
    if role == IntroducerRole.MP:
        name, office = f"{first} {last} MP", f"Member for {place}"
    elif role == IntroducerRole.MINISTER:
        name, office = f"Rt Hon {first} {last} MP", rng.choice(MINISTER_OFFICES)
    elif role == IntroducerRole.PEER:
        title = rng.choice(("Baroness", "Lord"))
        name, office = f"{title} {last.split('-')[0]} of {place}", "Member of the House of Lords"
    elif role == IntroducerRole.SENIOR_OFFICIAL:
        honorific = rng.choice(("", "", "Dr ", "Sir ", "Dame "))
        name, office = f"{honorific}{first} {last}", rng.choice(OFFICIAL_OFFICES)
    else:
        name, office = f"{first} {last}", rng.choice(OTHER_OFFICES).format(place=place)
    return Introducer(name=name, role=role, office=office)


def channel_choose(rng: random.Random, introducer: Introducer | None) -> str:
    if introducer is None:
        return rng.choices((Channel.WEBFORM, Channel.EMAIL, Channel.IMPORT), weights=(55, 40, 5))[0]
    if introducer.role == IntroducerRole.MP and rng.random() < 0.3:
        return Channel.MP_ENQUIRY
    return Channel.REFERRAL


@dataclass
class OfferPlan:
    """One offer with everything that belongs to it, unsaved."""

    offer: Offer
    lines: list[OfferLine]
    introductions: list[Introduction]


def offer_plan_build(
    rng: random.Random,
    *,
    supplier: Supplier,
    received_at: datetime,
    introducer: Introducer | None,
    channel: str,
    first_category: str | None = None,
    keyed_in_by=None,
) -> OfferPlan:
    """An unsaved offer with 1–3 lines and its introduction, if any. `keyed_in_by` is the
    caseworker who typed in a referral or an MP enquiry (None: it came in by itself)."""
    count = rng.choices((1, 2, 3), weights=(60, 28, 12))[0]
    lines = [line_build(rng, supplier, first_category if i == 0 else None) for i in range(count)]
    recorded_by = keyed_in_by if channel in (Channel.REFERRAL, Channel.MP_ENQUIRY) else None
    offer = Offer(
        supplier=supplier,
        channel=channel,
        received_at=received_at,
        summary="Offer of " + "; ".join(f"{x.quantity:,} × {x.description}" for x in lines) + ".",
        value_gbp=offer_value_gbp(lines),
        created_by=recorded_by,
    )
    for line in lines:
        line.offer = offer
    introductions = []
    if introducer is not None:
        relationship, notes = rng.choice(RELATIONSHIPS)
        introductions.append(
            Introduction(
                offer=offer,
                introducer=introducer,
                introduced_at=received_at - timedelta(minutes=rng.randint(0, 3 * 24 * 60)),
                relationship=relationship,
                conflict_of_interest_notes=notes,
                recorded_by=recorded_by,
            )
        )
    return OfferPlan(offer, lines, introductions)


# --- writing in bulk -------------------------------------------------------------------------


def _bulk(model, rows: list) -> list:
    return insert_all(model, rows)


def plans_insert(plans: list[OfferPlan]) -> list[Case]:
    """Write the offers, their lines and introductions, their cases (triage queue, status
    new) and each case's `created` event, stamped when the offer was received. One
    transaction. The same rows offer_create writes, without one round trip per row."""
    with transaction.atomic():
        _bulk(Offer, [p.offer for p in plans])
        _bulk(OfferLine, [line for p in plans for line in p.lines])
        _bulk(Introduction, [i for p in plans for i in p.introductions])
        cases = _bulk(
            Case,
            [
                Case(
                    offer=p.offer,
                    opened_at=p.offer.received_at,
                    lead_introducer_role=lead_introducer_role(
                        i.introducer.role for i in p.introductions
                    ),
                )
                for p in plans
            ],
        )
        events = [
            CaseEvent(
                case=case,
                kind=EventKind.CREATED,
                actor_id=plan.offer.created_by_id,
                to_value=Queue.TRIAGE,
                rationale=f"Offer received by {plan.offer.get_channel_display().lower()}.",
                created_at=plan.offer.received_at,
            )
            for case, plan in zip(cases, plans, strict=True)
        ]
        events_append(events, new_cases=True, batch_size=1_000)
    return cases


# --- triage and the clock --------------------------------------------------------------------


def triage_function():
    """triage.services.cases_triage, or None while triage is not available."""
    try:
        from triage.services import cases_triage
    except (ImportError, AttributeError):
        return None
    return cases_triage


_REAL_NOW = timezone.now  # the real clock, captured before any clock_at


@functools.cache
def _fields_defaulting_to_now() -> tuple:
    return tuple(
        f
        for model in apps.get_models()
        for f in model._meta.concrete_fields
        if f.default is _REAL_NOW
    )


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """Run the services as if it were `moment`.

    The services stamp every event with django.utils.timezone.now(). Demo data must look
    like three weeks of work rather than one minute of it, so each simulated action runs
    with the clock set to when it "happened". Acceptable for demo data only: nothing in
    the application itself ever sets the clock.

    Fields declared `default=timezone.now` (Handover.created_at, MPEnquiry.created_at)
    keep a reference to the real function, so their defaults are set to `moment` too.
    """
    with ExitStack() as stack:
        stack.enter_context(mock.patch("django.utils.timezone.now", return_value=moment))
        for f in _fields_defaulting_to_now():
            stack.enter_context(mock.patch.object(f, "_get_default", lambda: moment))
        yield


def _triage_as_received(cases_triage, cases: list[Case], now: datetime) -> None:
    """Triage every half hour, as the offers arrived, so that scores, routes and SLA due
    dates carry the times they would have had."""
    runs: dict[datetime, list[int]] = {}
    for case in cases:
        opened = timezone.localtime(case.opened_at)
        hour = opened.replace(minute=0, second=0, microsecond=0)
        run = hour + timedelta(minutes=32 if opened.minute < 30 else 62)
        runs.setdefault(min(run, now), []).append(case.pk)
    for run, ids in sorted(runs.items()):
        if run >= now:
            cases_triage(ids)
        else:
            with clock_at(run):
                cases_triage(ids)


# --- the demo ------------------------------------------------------------------------------


@dataclass
class SeedResult:
    cases: int = 0
    triaged: bool = False
    seconds: float = 0.0


def _received_times(rng: random.Random, now: datetime, days: int) -> list[datetime]:
    """20–30 offers a day, mostly in working hours, none in the last half hour."""
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    hour_weights = [1] * 7 + [6] * 11 + [3] * 4 + [1] * 2
    times = []
    for back in range(days - 1, -1, -1):
        day = midnight - timedelta(days=back)
        for _ in range(rng.randint(*DEMO_OFFERS_PER_DAY)):
            hour = rng.choices(range(24), weights=hour_weights)[0]
            offset = timedelta(hours=hour, minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))
            moment = timezone.localtime(day + offset)
            if moment < now - timedelta(minutes=30):
                times.append(moment)
    return sorted(times)


def demo_seed(
    *, rng: random.Random, now: datetime, users: dict | None, triage: bool, log: Log
) -> SeedResult:
    """Three weeks of intake at the scale of one team, triaged as it arrived, then the
    casework of those three weeks through the case services (when the demo users exist)."""
    started = time.monotonic()
    times = _received_times(rng, now, DEMO_DAYS)
    window_start = timezone.localdate(times[0])
    used_names = set(Supplier.objects.values_list("name", flat=True))
    suppliers = [
        supplier_build(rng, window_start=window_start, used_names=used_names)
        for _ in range(len(times) * 3 // 5)
    ]
    introducers = [introducer_build(rng, role) for role in IntroducerRole.values]
    introducers += [introducer_build(rng) for _ in range(70)]
    rng.shuffle(introducers)
    with transaction.atomic():
        _bulk(Supplier, suppliers)
        _bulk(Introducer, introducers)
    # A few suppliers and introducers account for many of the offers, as in life.
    supplier_weights = [1 / (i + 1) ** 0.6 for i in range(len(suppliers))]
    introducer_weights = [1 / (i + 1) ** 0.5 for i in range(len(introducers))]
    plans: list[OfferPlan] = []
    offered: list[tuple[Supplier, str]] = []  # (supplier, first category) so far
    number = Offer.objects.count()
    for received_at in times:
        introducer = None
        if rng.random() < DEMO_INTRODUCED_SHARE:
            introducer = rng.choices(introducers, weights=introducer_weights)[0]
        channel = channel_choose(rng, introducer)
        supplier = rng.choices(suppliers, weights=supplier_weights)[0]
        first_category = None
        if channel == Channel.MP_ENQUIRY and offered:
            # An MP asking about an offer the supplier already made: same supplier and product.
            supplier, first_category = rng.choice(offered)
        plan = offer_plan_build(
            rng,
            supplier=supplier,
            received_at=received_at,
            introducer=introducer,
            channel=channel,
            first_category=first_category,
            keyed_in_by=users[rng.choice(list(CASEWORKER_LOAD))] if users else None,
        )
        number += 1
        if channel in (Channel.WEBFORM, Channel.IMPORT):
            prefix = "WF" if channel == Channel.WEBFORM else "IMP"
            plan.offer.external_ref = f"{prefix}-{received_at:%Y-%m}-{number:05d}"
        offered.append((supplier, plan.lines[0].category))
        plans.append(plan)
    cases = plans_insert(plans)
    elapsed = time.monotonic() - started
    log(
        f"  {len(cases)} offers from {len(suppliers)} suppliers over {DEMO_DAYS} days ({elapsed:.1f} s)"
    )

    result = SeedResult(cases=len(cases))
    if triage:
        cases_triage = triage_function()
        if cases_triage is None:
            log("triage not available yet: cases left in the triage queue")
        else:
            _triage_as_received(cases_triage, cases, now)
            result.triaged = True
            log(f"  triaged and routed as they arrived ({time.monotonic() - started:.1f} s)")
    else:
        log("  triage skipped (--no-triage): cases left in the triage queue")
    if users:
        counts = casework_simulate(rng=rng, now=now, users=users, case_ids=[c.pk for c in cases])
        log(
            f"  casework: {counts['worked']} cases worked, {counts['closed']} closed, "
            f"{counts['handed_over']} handed to the MP inbox, {counts['enquiries']} MP "
            f"enquiries ({time.monotonic() - started:.1f} s)"
        )
    else:
        log("  casework not simulated: it needs the demo users")
    result.seconds = time.monotonic() - started
    return result


# --- casework ----------------------------------------------------------------------------


@dataclass
class CaseFacts:
    """What the simulated caseworkers know about a case when they write their sentences."""

    case: Case
    line: OfferLine  # the first line, which the sentences talk about
    supplier: Supplier
    introducers: list[Introducer]
    routed_at: datetime
    enquiry: MPEnquiry | None = None  # the latest MP enquiry the simulation recorded

    @property
    def label(self) -> str:
        return Category(self.line.category).label.lower()

    @property
    def gbp_price(self) -> Decimal | None:
        return price_in_gbp(self.line.unit_price, self.line.currency)

    @property
    def benchmark(self) -> Decimal:
        return PRODUCTS[self.line.category].benchmark


def _money(value: Decimal | None) -> str:
    if value is None:
        return "an unstated price"
    return f"£{value:.2f}" if value >= Decimal("0.10") else f"£{value:.3f}"


def _names_notified_body(certificate: str) -> bool:
    return any(part.isdigit() and len(part) == 4 for part in certificate.split())


def _rejection(rng: random.Random, facts: CaseFacts) -> str:
    line, price = facts.line, facts.gbp_price
    if line.strap_type == StrapType.EAR_LOOP:
        return (
            "Rejected: the respirators have ear loops, which fail face-fit testing; clinical "
            "users need head straps and the supplier cannot change the design."
        )
    if line.sterile and not line.sterilisation_validation:
        return (
            "Rejected: the gowns are sold as sterile but the supplier has no validated "
            "sterilisation process (ISO 11137 or ISO 11135) behind the claim."
        )
    if facts.supplier.due_diligence_status == DueDiligence.FAILED:
        return (
            "Rejected: due diligence failed. The company could not evidence its supply "
            "chain or its title to the stock it offers."
        )
    if price is not None and price > facts.benchmark * 3:
        return (
            f"Rejected: {_money(price)} per unit is far above the benchmark of "
            f"{_money(facts.benchmark)} and the supplier would not move on price."
        )
    if price is not None and price < facts.benchmark * Decimal("0.3"):
        return (
            f"Rejected: {_money(price)} per unit is a fraction of the benchmark of "
            f"{_money(facts.benchmark)}; samples failed inspection as likely counterfeit."
        )
    if line.certificate and not _names_notified_body(line.certificate):
        return (
            f"Rejected: the certificate offered ({line.certificate}) does not come from a "
            "notified body and the supplier could not provide one."
        )
    if not line.standards:
        return f"Rejected: no test evidence against a standard required for {facts.label}."
    return rng.choice(
        (
            "Rejected: technical assurance found the test reports do not cover this product.",
            "Rejected: samples failed the test house's fluid-resistance and fit checks.",
            "Rejected: the notified body could not confirm the supplier's certificate number.",
        )
    )


WITHDRAWALS = (
    "Withdrawn by the supplier: the stock was sold to another buyer before terms were agreed.",
    "Withdrawn: the supplier could not get an export licence for the stock.",
    "Withdrawn: the supplier stopped responding after three chasers.",
    "Withdrawn by the supplier, who could no longer meet the quoted lead time.",
)
PLAIN_NOTES = (
    "Called the supplier: samples will go to the test house on Monday.",
    "Asked for the full test report and the notified-body certificate.",
    "Supplier sent photographs of the stock and the packaging labels.",
    "Logistics checked: the stock can be delivered to the national distribution centre.",
    "Supplier confirms the stock is held in a bonded warehouse awaiting release.",
    "Test house booked; results expected within five working days.",
)
INTRODUCER_CHASERS = (
    ("email", "Asked for an update on the offer and when a decision is expected."),
    ("phone", "Asked why the offer has not been accepted yet; told it is assessed on need."),
    ("email", "Forwarded another email from the supplier asking for a decision this week."),
    ("letter", "Letter asking for the offer to be expedited."),
)
SUPPLIER_CHASERS = (
    ("phone", "The supplier says other buyers are interested and wants a decision this week."),
    ("email", "The supplier asked whether the certificates sent last week were received."),
)
STAGE_RATIONALES = {
    Status.TECHNICAL_ASSURANCE: "Offer details complete; passed to technical assurance to "
    "check the standards claimed and the certificate.",
    Status.DUE_DILIGENCE: "Technical assurance satisfied: test report and certificate checked.",
    Status.NEGOTIATION: "Due diligence passed: accounts, directors and bank details checked.",
    Status.AWAITING_APPROVAL: "Terms agreed; submitted to the approvals panel.",
}
STAGES = (
    Status.IN_PROGRESS,
    Status.TECHNICAL_ASSURANCE,
    Status.DUE_DILIGENCE,
    Status.NEGOTIATION,
    Status.AWAITING_APPROVAL,
)
HANDOVER_REASON = (
    "Below the Rapid Response threshold and waiting on technical evidence; the introducer's "
    "office asks for weekly updates, so the MP inbox will keep them informed."
)


def _restricted_note(rng: random.Random, facts: CaseFacts) -> str:
    price = facts.gbp_price
    quoted = _money(price * Decimal(rng.choice(("0.9", "0.95", "1", "1"))) if price else None)
    return rng.choice(
        (
            f"Supplier quoted {quoted} per unit ex works; will hold the price until Friday.",
            f"Supplier quoted {quoted} per unit delivered, 30% payable on order.",
            "Supplier asks for 50% payment up front; the commercial team advises against it.",
            f"Negotiated to {quoted} per unit for the full quantity, subject to approval.",
        )
    )


@dataclass
class Step:
    """One simulated action: which service, who does it and with what, and when."""

    action: str
    actor: str
    kwargs: dict = field(default_factory=dict)
    at: datetime | None = None


def _moments(rng: random.Random, start: datetime, end: datetime, count: int) -> list[datetime]:
    """`count` strictly increasing moments between start and end, mostly in London
    working hours."""
    span = max(0.0, (end - start).total_seconds()) * rng.uniform(0.35, 1.0)
    moments = []
    for offset in sorted(rng.uniform(0, span) for _ in range(count)):
        moment = timezone.localtime(start + timedelta(seconds=offset))
        if not 8 <= moment.hour < 19:
            moment = moment.replace(hour=rng.randint(8, 18), minute=rng.randint(0, 59))
        moments.append(min(max(moment, start), end))
    moments.sort()
    for i in range(1, len(moments)):
        if moments[i] <= moments[i - 1]:
            moments[i] = moments[i - 1] + timedelta(seconds=rng.randint(5, 20))
    return moments


def _chaser(rng: random.Random, facts: CaseFacts, actor: str) -> list[Step]:
    if facts.introducers and rng.random() < 0.35:
        how, text = rng.choice(INTRODUCER_CHASERS)
        who = f"Office of {facts.introducers[0].name}"
        return [Step("chaser", actor, {"who": who, "how": how, "text": text})]
    if rng.random() < 0.1:
        how, text = rng.choice(SUPPLIER_CHASERS)
        return [
            Step("chaser", actor, {"who": facts.supplier.contact_name, "how": how, "text": text})
        ]
    return []


def _plan_casework(
    rng: random.Random, facts: CaseFacts, fate: str, owner: str, now: datetime
) -> list[Step]:
    """The steps of one case in a casework queue, in order. Fates: untouched, working,
    handover (to the MP inbox), close (rejected or withdrawn), award (contract awarded)."""
    if fate == "untouched":
        return _chaser(rng, facts, owner)  # taken by whoever answered the phone
    steps: list[Step] = []
    if rng.random() < 0.25:
        rationale = rng.choice(
            (
                f"Allocated to {owner} from the unassigned queue.",
                f"{owner} has capacity this week.",
                f"{owner} worked this supplier's earlier offer.",
            )
        )
        steps.append(Step("assign", "manager", {"owner": owner, "rationale": rationale}))
        steps.append(Step("status", owner, {"to_status": Status.IN_PROGRESS}))
    else:
        steps.append(Step("claim", owner))

    # How far along the workflow: older cases are further on.
    age_days = (now - facts.routed_at).total_seconds() / 86400
    if fate == "award":
        target = len(STAGES) - 1
    elif fate == "handover":
        target = 0
    else:
        target = min(
            1 + int(age_days // 2.5), rng.choices(range(5), weights=(28, 27, 21, 15, 9))[0]
        )
        if fate == "close":
            target = min(target, 3)
    for stage in STAGES[1 : target + 1]:
        steps.append(
            Step("status", owner, {"to_status": stage, "rationale": STAGE_RATIONALES[stage]})
        )
        if rng.random() < 0.35:
            steps.append(Step("note", owner, {"text": rng.choice(PLAIN_NOTES)}))
        if stage == Status.DUE_DILIGENCE and fate != "award" and rng.random() < 0.12:
            back = (
                "Due diligence found the test report names a different manufacturer; back to "
                "technical assurance for the original report."
            )
            steps.append(
                Step("status", owner, {"to_status": Status.TECHNICAL_ASSURANCE, "rationale": back})
            )
            again = "Original test report received and checked."
            steps.append(
                Step("status", owner, {"to_status": Status.DUE_DILIGENCE, "rationale": again})
            )
        if stage == Status.NEGOTIATION:
            steps.append(
                Step("note", owner, {"text": _restricted_note(rng, facts), "restricted": True})
            )
        if rng.random() < 0.5:
            steps += _chaser(rng, facts, owner)

    if fate == "working" and rng.random() < 0.08:
        other = rng.choice([name for name in CASEWORKER_LOAD if name != owner])
        rationale = f"Rebalancing load while {owner} is on leave."
        steps.append(Step("assign", "manager", {"owner": other, "rationale": rationale}))
    elif fate == "handover":
        steps.append(Step("note", owner, {"text": rng.choice(PLAIN_NOTES)}))
        steps.append(Step("handover", owner, {"reason": HANDOVER_REASON}))
    elif fate == "award":
        rationale = (
            f"Approved by the panel: meets the standard for {facts.label} with a checked "
            f"certificate, {_money(facts.gbp_price)} per unit against a benchmark of "
            f"{_money(facts.benchmark)}, deliverable in {facts.line.lead_time_days} days."
        )
        close = {
            "to_status": Status.CLOSED,
            "outcome": Outcome.CONTRACT_AWARDED,
            "rationale": rationale,
        }
        steps.append(Step("status", owner, close))
    elif fate == "close":
        outcome = rng.choices((Outcome.REJECTED, Outcome.WITHDRAWN), weights=(65, 35))[0]
        rationale = (
            _rejection(rng, facts) if outcome == Outcome.REJECTED else rng.choice(WITHDRAWALS)
        )
        close = {"to_status": Status.CLOSED, "outcome": outcome, "rationale": rationale}
        steps.append(Step("status", owner, close))
    return steps


def _plan_mp_inbox(rng: random.Random, facts: CaseFacts) -> list[Step]:
    """The MP inbox tracks a case: an MP's enquiry, the reply, a note."""
    roll = rng.random()
    if roll < 0.35:
        return []
    mp = next((i for i in facts.introducers if i.role == IntroducerRole.MP), None)
    if mp is not None:
        mp_name, constituency = mp.name, mp.office.removeprefix("Member for ")
    else:
        first, last = _person(rng)
        mp_name, constituency = f"{first} {last} MP", rng.choice(CONSTITUENCIES)
    question = (
        f"My constituent {facts.supplier.name} offered {facts.line.quantity:,} {facts.label}. "
        "Can you tell me where the offer has got to and when they will hear?"
    )
    enquiry = {"mp_name": mp_name, "constituency": constituency, "question": question}
    steps = [Step("enquiry", "mpinbox", enquiry)]
    if roll < 0.8:
        reply = (
            f"Thank you for your enquiry about the offer from {facts.supplier.name}. Every "
            "offer is assessed on its ability to meet clinical need; this one is being tracked "
            "and we will write to the supplier directly as soon as a decision is made."
        )
        steps.append(Step("reply", "mpinbox", {"reply": reply, "close": rng.random() < 0.4}))
    if rng.random() < 0.3:
        note = "Spoke to the MP's caseworker, who will pass the update on to the supplier."
        steps.append(Step("note", "mpinbox", {"text": note}))
    return steps


def casework_simulate(
    *, rng: random.Random, now: datetime, users: dict, case_ids: list[int]
) -> Counter:
    """The team's work over the three weeks, done through vipcases/services.py with the
    clock set to when each action happened (see clock_at), in time order within each
    case. A CaseError here is a bug in the simulation, so it is not caught."""
    cases = list(
        Case.objects.filter(pk__in=case_ids)
        .exclude(status=Status.CLOSED)
        .select_related("offer__supplier")
        .prefetch_related("offer__lines", "offer__introductions__introducer")
        .order_by("opened_at", "pk")
    )
    routed = dict(
        CaseEvent.objects.filter(case__in=cases, kind=EventKind.ROUTED).values_list(
            "case_id", "created_at"
        )
    )
    everything = [
        CaseFacts(
            case=c,
            line=min(c.offer.lines.all(), key=lambda line: line.pk),
            supplier=c.offer.supplier,
            introducers=[i.introducer for i in c.offer.introductions.all()],
            routed_at=routed.get(c.pk, c.opened_at + timedelta(minutes=30)),
        )
        for c in cases
    ]
    # Close enough of the older cases to leave about 300 in train, and always a few.
    casework = [f for f in everything if f.case.queue != Queue.MP_INBOX]
    older = casework[: len(casework) * 3 // 4]
    to_close = max(len(everything) // 15, len(everything) - DEMO_TARGET_IN_TRAIN)
    closing = {f.case.pk for f in rng.sample(older, min(to_close, len(older)))}
    owners, owner_weights = list(CASEWORKER_LOAD), list(CASEWORKER_LOAD.values())
    counts: Counter = Counter()
    for facts in everything:
        age_days = (now - facts.routed_at).total_seconds() / 86400
        owner = rng.choices(owners, weights=owner_weights)[0]
        if facts.case.queue == Queue.MP_INBOX:
            steps = _plan_mp_inbox(rng, facts)
        else:
            if facts.case.pk in closing:
                awardable = (
                    age_days > 7 and facts.supplier.due_diligence_status != DueDiligence.FAILED
                )
                fate = "award" if awardable and rng.random() < 0.35 else "close"
            elif age_days < 0.3 or rng.random() < 0.16:
                fate = "untouched"
            elif facts.introducers and facts.case.queue == Queue.VIP and rng.random() < 0.15:
                fate = "handover"
            else:
                fate = "working"
            steps = _plan_casework(rng, facts, fate, owner, now)
        start, end = facts.routed_at + timedelta(minutes=10), now - timedelta(minutes=10)
        if not steps or end <= start:  # nothing has happened yet to a case routed just now
            continue
        for step, moment in zip(steps, _moments(rng, start, end, len(steps)), strict=True):
            step.at = moment
            _run(step, facts, users, counts)
        counts["worked"] += 1
    return counts


def _run(step: Step, facts: CaseFacts, users: dict, counts: Counter) -> None:
    actor, case_id, kw = users[step.actor], facts.case.pk, step.kwargs
    with clock_at(step.at):
        if step.action == "claim":
            services.case_claim(case_id=case_id, acting_user=actor, no_conflict_declared=True)
        elif step.action == "assign":
            owner = users[kw["owner"]]
            services.case_assign(
                case_id=case_id, owner=owner, acting_user=actor, rationale=kw["rationale"]
            )
        elif step.action == "status":
            services.case_change_status(case_id=case_id, acting_user=actor, **kw)
            counts["closed"] += kw["to_status"] == Status.CLOSED
        elif step.action == "note":
            services.case_add_note(case_id=case_id, acting_user=actor, **kw)
        elif step.action == "chaser":
            services.case_record_chaser(case_id=case_id, acting_user=actor, **kw)
        elif step.action == "handover":
            services.case_hand_over(
                case_id=case_id, to_queue=Queue.MP_INBOX, acting_user=actor, **kw
            )
            counts["handed_over"] += 1
        elif step.action == "enquiry":
            received_at = step.at - timedelta(minutes=45)
            facts.enquiry = services.enquiry_record(
                case_id=case_id, acting_user=actor, received_at=received_at, **kw
            )
            counts["enquiries"] += 1
        elif step.action == "reply":
            services.enquiry_reply(enquiry_id=facts.enquiry.pk, acting_user=actor, **kw)
        else:
            raise ValueError(f"unknown demo action {step.action!r}")


# --- at scale --------------------------------------------------------------------------------


def scale_seed(
    *, rng: random.Random, now: datetime, count: int, triage: bool, log: Log
) -> SeedResult:
    """`count` cases received over the last 14 weeks, written in bulk: one transaction per
    batch of BATCH_SIZE cases, each case with its offer, 1–3 lines, an introduction for
    about 40% and its `created` event; then triage in chunks, unless told not to."""
    started = time.monotonic()

    def progress(message: str) -> None:
        log(f"  {message} ({time.monotonic() - started:.1f} s)")

    window_start = timezone.localdate(now) - timedelta(weeks=SCALE_WEEKS)
    window_seconds = int(timedelta(weeks=SCALE_WEEKS).total_seconds())
    supplier_count = max(1, count // 3)
    suppliers: list[Supplier] = []
    while len(suppliers) < supplier_count:
        size = min(BATCH_SIZE, supplier_count - len(suppliers))
        batch = [supplier_build(rng, window_start=window_start) for _ in range(size)]
        with transaction.atomic():
            _bulk(Supplier, batch)
        suppliers.extend(batch)
    introducers = [introducer_build(rng, role) for role in IntroducerRole.values]
    introducers += [introducer_build(rng) for _ in range(min(400, max(20, count // 250)))]
    with transaction.atomic():
        _bulk(Introducer, introducers)
    progress(f"{len(suppliers):,} suppliers and {len(introducers):,} introducers")

    case_ids: list[int] = []
    while len(case_ids) < count:
        plans = []
        for _ in range(min(BATCH_SIZE, count - len(case_ids))):
            introducer = rng.choice(introducers) if rng.random() < SCALE_INTRODUCED_SHARE else None
            plans.append(
                offer_plan_build(
                    rng,
                    supplier=rng.choice(suppliers),
                    received_at=now - timedelta(seconds=rng.randint(3600, window_seconds)),
                    introducer=introducer,
                    channel=channel_choose(rng, introducer),
                )
            )
        case_ids += [case.pk for case in plans_insert(plans)]
        progress(f"{len(case_ids):,} / {count:,} cases")

    result = SeedResult(cases=len(case_ids))
    if triage:
        cases_triage = triage_function()
        if cases_triage is None:
            log("triage not available yet: cases left in the triage queue")
        else:
            for start in range(0, len(case_ids), TRIAGE_CHUNK):
                cases_triage(case_ids[start : start + TRIAGE_CHUNK])
                progress(
                    f"triaged {min(start + TRIAGE_CHUNK, len(case_ids)):,} / {len(case_ids):,}"
                )
            result.triaged = True
    else:
        log("  triage skipped (--no-triage): cases left in the triage queue")
    result.seconds = time.monotonic() - started
    return result


# --- summary ---------------------------------------------------------------------------------


def summary_lines() -> list[str]:
    """What the database holds now, from aggregate queries, for the end of a run."""
    lines = ["Cases by queue and status:"]
    rows = (
        Case.objects.values("queue", "status").annotate(n=Count("id")).order_by("queue", "status")
    )
    for row in rows:
        lines.append(
            f"  {Queue(row['queue']).label:<15} {Status(row['status']).label:<20} {row['n']:>9,}"
        )
    outcomes = (
        Case.objects.exclude(outcome="")
        .values("outcome")
        .annotate(n=Count("id"))
        .order_by("outcome")
    )
    if outcomes:
        lines.append("Closed cases by outcome:")
        for row in outcomes:
            lines.append(f"  {Outcome(row['outcome']).label:<36} {row['n']:>9,}")
    totals = (
        ("offers", Offer.objects.count()),
        ("offer lines", OfferLine.objects.count()),
        ("suppliers", Supplier.objects.count()),
        ("introducers", Introducer.objects.count()),
        ("introductions", Introduction.objects.count()),
        ("case events", CaseEvent.objects.count()),
        ("handovers", Handover.objects.count()),
        ("MP enquiries", MPEnquiry.objects.count()),
        ("awaiting a reply", MPEnquiry.objects.filter(status=EnquiryStatus.OPEN).count()),
    )
    lines.append("Totals: " + ", ".join(f"{n:,} {label}" for label, n in totals))
    return lines
