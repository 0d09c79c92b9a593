"""On PostgreSQL, the database itself refuses UPDATE and DELETE on the credit ledger."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION billing_credittransaction_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'billing_credittransaction is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER billing_credittransaction_append_only
    BEFORE UPDATE OR DELETE ON billing_credittransaction
    FOR EACH ROW EXECUTE FUNCTION billing_credittransaction_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS billing_credittransaction_append_only ON billing_credittransaction;
DROP FUNCTION IF EXISTS billing_credittransaction_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
