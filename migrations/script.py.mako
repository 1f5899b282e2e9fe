"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from alembic import op
${imports if imports else ""}
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    """Say what this changes and why it is safe on a live table."""
    ${upgrades if upgrades else "raise NotImplementedError"}


def downgrade() -> None:
    """Say how this is undone, and what data (if any) cannot come back."""
    ${downgrades if downgrades else "raise NotImplementedError"}
