"""media: an index for the newest-first keyset pages of published videos

Revision ID: a2c80e1360b1
Revises: 2fadcd83f9d4
Create Date: 2026-11-26 10:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a2c80e1360b1'
down_revision = '2fadcd83f9d4'
branch_labels = None
depends_on = None


def upgrade():
    # Newest first from a cursor: a range on (created_at, id), the filter columns read from the index itself.
    # The (state, visibility) index served only this listing, which it could not page deeply.
    with op.batch_alter_table('videos', schema=None) as batch_op:
        batch_op.create_index('ix_videos_listing', ['created_at', 'id', 'state', 'visibility', 'deleted_at'],
                              unique=False)
        batch_op.drop_index('ix_videos_state_visibility')


def downgrade():
    with op.batch_alter_table('videos', schema=None) as batch_op:
        batch_op.create_index('ix_videos_state_visibility', ['state', 'visibility'], unique=False)
        batch_op.drop_index('ix_videos_listing')
