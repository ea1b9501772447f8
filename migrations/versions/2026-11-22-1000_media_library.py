"""media library: list/expiry indexes on media, media_derivatives

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import polypost.models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index(
            "ix_media_workspace_created", ["workspace_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_media_status_expires", ["status", "expires_at"], unique=False)

    op.create_table(
        "media_derivatives",
        sa.Column("media_id", sa.String(length=40), nullable=False),
        sa.Column("spec", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("created_at", polypost.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_media_derivatives_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_id", "spec", name=op.f("pk_media_derivatives")),
    )


def downgrade() -> None:
    op.drop_table("media_derivatives")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index("ix_media_status_expires")
        batch_op.drop_index("ix_media_workspace_created")
