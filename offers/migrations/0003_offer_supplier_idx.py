"""An index on offers by supplier, then id, so the case list's supplier search finds
the ids of the matching suppliers' offers from the index alone (issue 8)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("offers", "0002_intake_api_and_import")]

    operations = [
        migrations.AddIndex(
            model_name="offer",
            index=models.Index(fields=["supplier", "id"], name="offer_supplier_idx"),
        ),
    ]
