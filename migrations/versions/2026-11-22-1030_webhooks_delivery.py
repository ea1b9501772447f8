"""webhooks delivery: disabled_at, one delivery per endpoint and event

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import polypost.models.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("disabled_at", polypost.models.base.UtcDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_webhook_deliveries_webhook_id_event_id"), ["webhook_id", "event_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_webhook_deliveries_webhook_id_event_id"), type_="unique"
        )

    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
