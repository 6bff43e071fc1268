"""The case list at a million cases (issue 8): open cases by offer.

A partial index over open cases on (offer, queue, priority). The supplier search goes
from the matching suppliers' offers (offers.0003's index) to their open cases without
reading the closed ones, and the product category filter's capped count reads the open
cases in a score band, with their queue, from this index alone, in offer order, and
merges them with the category's lines (offerline_category_idx) instead of hashing every
line in the category. At a million cases: the gown count 232 -> 18-30 ms, the "kestrel"
search 750 -> 230 ms (page and count, same conditions, a busy machine).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("offers", "0003_offer_supplier_idx"),
        ("vipcases", "0007_case_lead_role_routed_queue"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                condition=models.Q(("status", "closed"), _negated=True),
                fields=["offer", "queue", "priority"],
                name="case_open_offer_idx",
            ),
        ),
    ]
