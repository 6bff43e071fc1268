"""Bulk updates that stay cheap: one UPDATE per distinct set of new values.

Django's bulk_update builds a CASE WHEN per row and field, which cost most of the time
of re-scoring and routing in batches (measured by seed_demo --cases). Batches here set
few distinct values (a queue, a score), so grouping rows by their new values needs a
handful of plain UPDATEs instead.
"""

from collections import defaultdict
from collections.abc import Iterable


def update_in_groups(model, rows: Iterable[tuple[int, dict]], **common) -> int:
    """Set each row's `values` (plus `common`, e.g. version=F("version") + 1) by primary key."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for pk, values in rows:
        groups[tuple(sorted(values.items()))].append(pk)
    changed = 0
    for values, pks in groups.items():
        changed += model.objects.filter(pk__in=pks).update(**dict(values), **common)
    return changed
