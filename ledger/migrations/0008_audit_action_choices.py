"""AuditEvent.action takes the AuditAction choices (the strings stored before, unchanged)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0007_postgres_append_only"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("journal entry posted", "Journal entry posted"),
                    ("books closed", "Books closed"),
                    ("customer created", "Customer created"),
                    ("customer changed", "Customer changed"),
                    ("invoice created", "Invoice created"),
                    ("invoice changed", "Invoice changed"),
                    ("invoice posted", "Invoice posted"),
                    ("invoice voided", "Invoice voided"),
                    ("invoice draft cancelled", "Invoice draft cancelled"),
                    ("credit memo created", "Credit memo created"),
                    ("credit memo changed", "Credit memo changed"),
                    ("credit memo posted", "Credit memo posted"),
                    ("credit memo voided", "Credit memo voided"),
                    ("credit memo draft cancelled", "Credit memo draft cancelled"),
                    ("payment recorded", "Payment recorded"),
                    ("payment posted", "Payment posted"),
                    ("payment voided", "Payment voided"),
                    ("payment draft cancelled", "Payment draft cancelled"),
                    ("credit applied", "Credit applied"),
                    ("credit unapplied", "Credit unapplied"),
                    ("refund prepared", "Refund prepared"),
                    ("refund released", "Refund released"),
                    ("refund cancelled", "Refund cancelled"),
                    ("refund reversed", "Refund reversed"),
                    ("store credit issued", "Store credit issued"),
                    ("deposit recorded", "Deposit recorded"),
                    ("deposit posted", "Deposit posted"),
                    ("deposit draft cancelled", "Deposit draft cancelled"),
                    ("deposit voided", "Deposit voided"),
                    ("deposit applied", "Deposit applied"),
                    ("deposit unapplied", "Deposit unapplied"),
                    ("deposit refund prepared", "Deposit refund prepared"),
                    ("deposit refund released", "Deposit refund released"),
                    ("deposit refund cancelled", "Deposit refund cancelled"),
                    ("deposit refund reversed", "Deposit refund reversed"),
                ],
                db_index=True,
                max_length=60,
            ),
        ),
    ]
