"""Issue 11, item 2: `Document.earmarked_for` is for payments only (the draft invoice a
payment was taken on); a refund prepared on a draft invoice names it in `prepared_on`.

The data step moves refunds' earmarked_for into prepared_on. The PostgreSQL guard on posted
documents (0009_document_guards) doesn't watch either column, so posted and void refunds
are updated like drafts."""

import django.db.models.deletion
from django.db import migrations, models


def forward(apps, schema_editor):
    Document = apps.get_model("invoicing", "Document")
    refunds = Document.objects.filter(kind="refund", earmarked_for__isnull=False)
    refunds.update(prepared_on=models.F("earmarked_for"), earmarked_for=None)


def backward(apps, schema_editor):
    Document = apps.get_model("invoicing", "Document")
    refunds = Document.objects.filter(kind="refund", prepared_on__isnull=False)
    refunds.update(earmarked_for=models.F("prepared_on"), prepared_on=None)


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0010_application_target_source")]

    operations = [
        migrations.AddField(
            model_name="document",
            name="prepared_on",
            field=models.ForeignKey(
                blank=True,
                help_text="A refund prepared on a draft invoice lowered below what was paid on "
                "it (Method 2).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="refunds_prepared_on",
                to="invoicing.document",
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
