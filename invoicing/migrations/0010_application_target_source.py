"""Issue 11, item 1: Application.invoice/credit are named for what they hold — `target`
(the positive open item paid down: an invoice, or a refund paying a credit back) and
`source` (the negative open item used: a credit memo or a payment)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0009_document_guards")]

    operations = [
        migrations.RemoveConstraint(model_name="application", name="application_two_documents"),
        migrations.RenameField(model_name="application", old_name="invoice", new_name="target"),
        migrations.RenameField(model_name="application", old_name="credit", new_name="source"),
        migrations.AlterField(
            model_name="application",
            name="target",
            field=models.ForeignKey(
                help_text="The positive open item paid down: an invoice, or a refund paying "
                "a credit back.",
                on_delete=models.deletion.PROTECT,
                related_name="applications_received",
                to="invoicing.document",
            ),
        ),
        migrations.AlterField(
            model_name="application",
            name="source",
            field=models.ForeignKey(
                help_text="The negative open item used: a credit memo or a payment (a credit).",
                on_delete=models.deletion.PROTECT,
                related_name="applications_made",
                to="invoicing.document",
            ),
        ),
        migrations.AddConstraint(
            model_name="application",
            constraint=models.CheckConstraint(
                condition=~models.Q(target=models.F("source")), name="application_two_documents"
            ),
        ),
    ]
