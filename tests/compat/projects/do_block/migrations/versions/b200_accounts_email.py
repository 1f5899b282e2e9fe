"""Drop the unique constraint on accounts.email, whatever it is called."""

from alembic import op

revision = "b200"
down_revision = "b100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        DO $$
        DECLARE name text;
        BEGIN
            SELECT conname INTO name FROM pg_constraint
            WHERE conrelid = 'accounts'::regclass AND contype = 'u';
            IF name IS NOT NULL THEN
                EXECUTE format('ALTER TABLE accounts DROP CONSTRAINT %I', name);
            END IF;
        END $$;
        """
    )


def downgrade() -> None:
    op.create_unique_constraint("accounts_email_key", "accounts", ["email"])
