"""Case events: an index on (case, id), the order of each case's chain.

events_append looks up the last event (highest id) of every case in a batch before it
chains new events to them. With this index that is one short backward index scan per
case, reading one event, where grouping the events of a batch's cases by case read them
all (a sequential scan of the table when the planner guessed many), so a routing-policy
transition over 100,000 cases spent seconds on it.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("vipcases", "0008_case_open_offer_idx"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="caseevent",
            index=models.Index(fields=["case", "id"], name="caseevent_chain_order_idx"),
        ),
    ]
