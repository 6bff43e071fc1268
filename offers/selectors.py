"""Reads for the offer screens."""

from offers.models import Supplier

SUPPLIER_MATCH_LIMIT = 10


def suppliers_matching(query: str, *, limit: int = SUPPLIER_MATCH_LIMIT) -> list[Supplier]:
    """Suppliers for "Companies House number or name": the supplier with that number if
    there is one, else those with exactly that name, else those whose name contains it.
    At most `limit` + 1 rows, so a caller can tell that there were more."""
    query = " ".join((query or "").split())
    if not query:
        return []
    number = query.replace(" ", "").upper()
    # Companies House numbers have 8 characters; people often drop the leading zeros.
    numbers = {number, number.zfill(8)} if number.isdigit() else {number}
    rows = Supplier.objects.order_by("name", "pk")
    for matching in (
        rows.filter(company_number__in=numbers),
        rows.filter(name__iexact=query),
        rows.filter(name__icontains=query),
    ):
        found = list(matching[: limit + 1])
        if found:
            return found
    return []
