"""accounts: personal access tokens

Revision ID: 2fadcd83f9d4
Revises: 7b3e91c2a5d0
Create Date: 2026-11-25 23:28:14.480061

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2fadcd83f9d4'
down_revision = '7b3e91c2a5d0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('access_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('hint', sa.String(length=16), nullable=False),
    sa.Column('scopes', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('last_used_ip', sa.String(length=45), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_access_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_tokens')),
    sa.UniqueConstraint('public_id', name=op.f('uq_access_tokens_public_id')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_access_tokens_secret_hash'))
    )
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_tokens_user_id'), ['user_id'], unique=False)



def downgrade():
    # Dropping the table drops its index; MariaDB refuses to drop the index alone (the foreign key needs it).
    op.drop_table('access_tokens')
