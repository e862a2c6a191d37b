"""users: directory search that row-level security lets use its trigram indexes

Under RLS PostgreSQL uses an index only for a qual whose functions are all LEAKPROOF; ``lower()``,
LIKE and pg_trgm's operators are not, so every search scanned the tenant's every row (about two
seconds for 100,000 members: docs/users.md, "Directory benchmark"). The search now filters with
``term <% name_text OR term <% email`` on the bare columns (pg_trgm folds case itself), so:

- the trigram GIN indexes are on the bare columns (replacing the ``lower()`` ones);
- the two word-similarity operator functions are marked LEAKPROOF, which only a superuser may do:
  they raise no error for any input and return a similarity of their two arguments, so nothing of
  a row another policy hides can escape through them. Migrated by a role that is not a superuser
  (a managed PostgreSQL), a warning says so and search stays correct but scans; a superuser can
  run the two ``ALTER FUNCTION`` statements later (again after a dump is restored: the flag of
  an extension's function is not dumped).

Revision ID: users_0006
Revises: users_0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "users_0006"
down_revision = "users_0005"
branch_labels = None
depends_on = None

_OPERATOR_FUNCTIONS = "('word_similarity_op', 'word_similarity_commutator_op')"


def _mark(leakproof: bool) -> None:
    flag = "LEAKPROOF" if leakproof else "NOT LEAKPROOF"
    op.execute(
        f"""
        DO $$
        DECLARE fn regprocedure;
        BEGIN
            IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                RAISE WARNING 'not a superuser: directory search scans (pg_trgm not leakproof)';
                RETURN;
            END IF;
            FOR fn IN
                SELECT p.oid::regprocedure FROM pg_proc p
                JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
                JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_trgm'
                WHERE p.proname IN {_OPERATOR_FUNCTIONS}
            LOOP
                EXECUTE format('ALTER FUNCTION %s {flag}', fn);
            END LOOP;
        END
        $$
        """  # noqa: S608 - constants only
    )


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_directory_name_text_trgm ON users.directory USING gin "
        "(name_text gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX ix_directory_email_text_trgm ON users.directory USING gin "
        "(email gin_trgm_ops)"
    )
    op.execute("DROP INDEX users.ix_directory_name_trgm")
    op.execute("DROP INDEX users.ix_directory_email_trgm")
    _mark(leakproof=True)


def downgrade() -> None:
    _mark(leakproof=False)
    op.execute(
        "CREATE INDEX ix_directory_name_trgm ON users.directory USING gin "
        "(lower(name_text) gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX ix_directory_email_trgm ON users.directory USING gin "
        "(lower(email) gin_trgm_ops)"
    )
    op.execute("DROP INDEX users.ix_directory_name_text_trgm")
    op.execute("DROP INDEX users.ix_directory_email_text_trgm")
