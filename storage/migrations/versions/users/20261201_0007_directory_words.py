"""users: a word-prefix table for directory search (``users.directory_words``)

Search by prefix no longer asks pg_trgm: under row-level security a trigram match at threshold
0.3 on a three-letter prefix or a common given name found thousands of members and ranked each
(docs/users.md, "Directory benchmark"). Each entry's words (its name's and address's words,
lower-cased, split at anything not a letter or digit, the name's pieces as written, and the whole
address) are rows of ``directory_words``; a prefix is a range on its btree (``word >= p AND
word < p || U+10FFFF`` in the "C" collation: ``text_ge``/``text_lt`` are LEAKPROOF, so the range
is an index condition under RLS too).

The words are kept by a trigger on ``users.directory`` (insert, a change of ``name_text`` or
``email``, delete), so every writer (the repositories, COPY) keeps them without a second code
path. The trigger function is SECURITY DEFINER: a user's profile refresh updates their entries
in every tenant (policy ``own_entries_names``), and their words follow as the table owner. The
table has the tenant policy without FORCE for that reason: the application role (not the owner)
is bound by it; only the owner's trigger writes across tenants.

Revision ID: users_0007
Revises: users_0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

from storage.migrations.rls import CURRENT_TENANT

revision = "users_0007"
down_revision = "users_0006"
branch_labels = None
depends_on = None

_WORDS = """
    SELECT DISTINCT w FROM (
        SELECT regexp_split_to_table(lower(name_text || ' ' || email), '[^[:alnum:]]+') AS w
        UNION ALL SELECT regexp_split_to_table(lower(name_text), '\\s+')
        UNION ALL SELECT lower(email)
    ) AS words WHERE w <> ''
"""


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE users.directory_words (
            tenant_id uuid NOT NULL,
            word text COLLATE "C" NOT NULL,
            user_id uuid NOT NULL,
            CONSTRAINT pk_directory_words PRIMARY KEY (tenant_id, word, user_id)
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_directory_words_tenant_user ON users.directory_words (tenant_id, user_id)"
    )
    op.execute(
        f"""
        CREATE FUNCTION users.directory_words_of(name_text text, email text)
        RETURNS SETOF text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ {_WORDS} $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION users.directory_words_sync() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, users AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                DELETE FROM users.directory_words
                WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id;
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                INSERT INTO users.directory_words (tenant_id, word, user_id)
                SELECT NEW.tenant_id, left(w, 400), NEW.user_id
                FROM users.directory_words_of(NEW.name_text, NEW.email) AS w
                ON CONFLICT DO NOTHING;
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER directory_words_sync AFTER INSERT OR DELETE OR UPDATE OF name_text, "
        "email ON users.directory FOR EACH ROW EXECUTE FUNCTION users.directory_words_sync()"
    )
    op.execute(
        "INSERT INTO users.directory_words (tenant_id, word, user_id) "
        "SELECT d.tenant_id, left(w, 400), d.user_id FROM users.directory d, "
        "users.directory_words_of(d.name_text, d.email) AS w ON CONFLICT DO NOTHING"
    )
    condition = f"tenant_id = {CURRENT_TENANT}"
    op.execute("ALTER TABLE users.directory_words ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON users.directory_words USING ({condition}) "
        f"WITH CHECK ({condition})"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER directory_words_sync ON users.directory")
    op.execute("DROP FUNCTION users.directory_words_sync()")
    op.execute("DROP FUNCTION users.directory_words_of(text, text)")
    op.execute("DROP TABLE users.directory_words")
