"""The application's tables: env.py hands them to Alembic as target_metadata."""

import sqlalchemy as sa

metadata = sa.MetaData(naming_convention={"pk": "pk_%(table_name)s"})

products = sa.Table(
    "products",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
)
