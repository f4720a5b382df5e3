"""Issue 11, item 3: both kinds of refund say who released them the same way. Releasing is
how a refund posts, so DepositRefund.released_by/released_at become posted_by/posted_at,
like Document's, and both say so in their help text."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

POSTED_BY_HELP = (
    "Who posted it; for a refund, the Poster who released it (releasing is how a refund posts)."
)
POSTED_AT_HELP = "When it was posted; for a refund, when it was released."


def posted_by():
    return models.ForeignKey(
        blank=True,
        help_text=POSTED_BY_HELP,
        null=True,
        on_delete=django.db.models.deletion.PROTECT,
        related_name="+",
        to=settings.AUTH_USER_MODEL,
        verbose_name="posted by",
    )


def posted_at():
    return models.DateTimeField(
        blank=True, help_text=POSTED_AT_HELP, null=True, verbose_name="posted at"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("invoicing", "0011_document_prepared_on"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RenameField(
            model_name="depositrefund", old_name="released_by", new_name="posted_by"
        ),
        migrations.RenameField(
            model_name="depositrefund", old_name="released_at", new_name="posted_at"
        ),
        *(
            op
            for model in ("document", "deposit", "depositrefund")
            for op in (
                migrations.AlterField(model_name=model, name="posted_by", field=posted_by()),
                migrations.AlterField(model_name=model, name="posted_at", field=posted_at()),
            )
        ),
    ]
