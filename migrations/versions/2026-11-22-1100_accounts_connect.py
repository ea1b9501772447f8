"""accounts connect: OAuth states, redirect URI whitelist, BYOK app credentials, token
refresh lock and error time on social_accounts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import polypost.models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_states",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=True),
        sa.Column("data_enc", sa.Text(), nullable=False),
        sa.Column("created_at", polypost.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", polypost.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", polypost.models.base.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_oauth_states_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_states")),
    )
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_states_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_oauth_states_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "oauth_redirect_uris",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("created_at", polypost.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_oauth_redirect_uris_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_redirect_uris")),
        sa.UniqueConstraint(
            "workspace_id", "uri", name=op.f("uq_oauth_redirect_uris_workspace_id_uri")
        ),
    )
    with op.batch_alter_table("oauth_redirect_uris", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_redirect_uris_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "platform_credentials",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=512), nullable=False),
        sa.Column("client_secret_enc", sa.Text(), nullable=True),
        sa.Column("extra_enc", sa.Text(), nullable=True),
        sa.Column("last_tested_at", polypost.models.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_test_ok", sa.Boolean(), nullable=True),
        sa.Column("created_at", polypost.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", polypost.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_platform_credentials_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_credentials")),
        sa.UniqueConstraint(
            "workspace_id", "platform", name=op.f("uq_platform_credentials_workspace_id_platform")
        ),
    )
    with op.batch_alter_table("platform_credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_platform_credentials_workspace_id"), ["workspace_id"], unique=False
        )

    with op.batch_alter_table("social_accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "last_error_at", polypost.models.base.UtcDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("refresh_lock_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "refresh_lock_expires_at",
                polypost.models.base.UtcDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.create_index(
            batch_op.f("ix_social_accounts_token_expires_at"), ["token_expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("social_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_social_accounts_token_expires_at"))
        batch_op.drop_column("refresh_lock_expires_at")
        batch_op.drop_column("refresh_lock_owner")
        batch_op.drop_column("last_error_at")

    with op.batch_alter_table("platform_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_platform_credentials_workspace_id"))
    op.drop_table("platform_credentials")

    with op.batch_alter_table("oauth_redirect_uris", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_redirect_uris_workspace_id"))
    op.drop_table("oauth_redirect_uris")

    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_states_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_states_expires_at"))
    op.drop_table("oauth_states")
