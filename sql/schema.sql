-- lensflow schema: the catalogue, the registry of loaded embedding sets and
-- the pointer to the served one. Applied by ml-pgload on every run: every
-- statement is idempotent. Each model version's vectors live in tables of
-- their own (lf_<model>_v<N>_users/_items/_dirs), created by ml-pgload
-- (tools/ml-pgload/sets.c) in the transaction that inserts the set's row.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE IF NOT EXISTS movies (
    movie_id     integer PRIMARY KEY,
    title        text NOT NULL,
    release_date text NOT NULL DEFAULT '',
    year         integer,
    genres       text[] NOT NULL DEFAULT '{}'
);

CREATE TABLE IF NOT EXISTS ratings (
    user_id  integer NOT NULL,
    movie_id integer NOT NULL,
    rating   real NOT NULL CHECK (rating >= 0.5 AND rating <= 5 AND rating * 2 = trunc(rating * 2)),
    rated_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, movie_id)
);

-- Half stars (ML-10M and later): a ratings table made before them held
-- smallint 1..5; widened in place (whole stars keep their values).
DO $$
BEGIN
    IF (SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema()
        AND table_name = 'ratings' AND column_name = 'rating') = 'smallint' THEN
        ALTER TABLE ratings DROP CONSTRAINT IF EXISTS ratings_rating_check,
            ALTER COLUMN rating TYPE real,
            ADD CONSTRAINT ratings_rating_check
                CHECK (rating >= 0.5 AND rating <= 5 AND rating * 2 = trunc(rating * 2));
    END IF;
END $$;

-- What catalogue is loaded: the SHA-256 of the movies and ratings files.
CREATE TABLE IF NOT EXISTS catalogue_meta (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    checksum  text NOT NULL,
    n_movies  integer NOT NULL,
    n_ratings integer NOT NULL,
    loaded_at timestamptz NOT NULL
);

-- One row per complete set: the row is inserted in the transaction that
-- creates and fills the set's tables, so a row means the tables are whole.
CREATE TABLE IF NOT EXISTS embedding_sets (
    model_name       text NOT NULL CHECK (model_name ~ '^[a-z][a-z0-9_]{0,31}$'),
    version          integer NOT NULL CHECK (version > 0),
    dim              integer NOT NULL,
    n_users          integer NOT NULL,
    n_items          integer NOT NULL,
    checksum         text NOT NULL,      -- SHA-256 of the .lfe file
    index_kind       text NOT NULL,      -- 'none', 'norm' or 'hnsw' (lib/store.h)
    users_table      text NOT NULL,
    items_table      text NOT NULL,
    directions_table text NOT NULL,
    run_id           text,               -- MLflow run that produced it
    metrics          jsonb NOT NULL DEFAULT '{}',  -- offline metrics (names as in metrics TSV)
    foldin           jsonb NOT NULL DEFAULT '{}',  -- user_l2, weight_alpha, weight_norm, bias_last
    loaded_at        timestamptz NOT NULL,
    PRIMARY KEY (model_name, version)
);

-- The served set per model name, switched by one UPDATE.
CREATE TABLE IF NOT EXISTS serving (
    model_name  text PRIMARY KEY,
    version     integer NOT NULL,
    switched_at timestamptz NOT NULL,
    FOREIGN KEY (model_name, version) REFERENCES embedding_sets
);

CREATE TABLE IF NOT EXISTS serving_history (
    id           bigserial PRIMARY KEY,
    model_name   text NOT NULL,
    from_version integer,
    to_version   integer NOT NULL,
    switched_at  timestamptz NOT NULL
);

-- ---- living data (issue 25) ------------------------------------------------
-- A challenger beside the served set (the champion): ml-serve answers a
-- stable share of users from it, chosen by a salted hash of the user id.
-- Added to an existing `serving` table in place.
ALTER TABLE serving ADD COLUMN IF NOT EXISTS challenger integer;
ALTER TABLE serving ADD COLUMN IF NOT EXISTS challenger_share double precision NOT NULL
    DEFAULT 0 CHECK (challenger_share >= 0 AND challenger_share <= 1);
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'serving_challenger_fkey') THEN
        ALTER TABLE serving ADD CONSTRAINT serving_challenger_fkey
            FOREIGN KEY (model_name, challenger) REFERENCES embedding_sets;
    END IF;
END $$;
ALTER TABLE serving_history ADD COLUMN IF NOT EXISTS challenger integer;
ALTER TABLE serving_history ADD COLUMN IF NOT EXISTS challenger_share double precision;

-- What users did: POST /feedback's events. One row per (user, movie, time):
-- a repeated event is stored once. The rating is on the datasets' scale,
-- 0.5 .. 5 in steps of 0.5. request_id: the ranked answer it followed, if
-- the client said so.
CREATE TABLE IF NOT EXISTS feedback (
    user_id     integer NOT NULL CHECK (user_id > 0),
    movie_id    integer NOT NULL,
    rating      real NOT NULL CHECK (rating >= 0.5 AND rating <= 5 AND rating * 2 = trunc(rating * 2)),
    rated_at    timestamptz NOT NULL,
    request_id  text,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, movie_id, rated_at)
);
CREATE INDEX IF NOT EXISTS feedback_rated_at ON feedback (rated_at);
CREATE INDEX IF NOT EXISTS feedback_request ON feedback (request_id) WHERE request_id IS NOT NULL;

-- What was served: one row per ranked answer, written by ml-serve off the
-- request path (binary COPY in batches). user_id NULL: a new user's answer
-- (POST /recommendations), matched to feedback by request_id.
CREATE TABLE IF NOT EXISTS impressions (
    request_id    text NOT NULL,
    served_at     timestamptz NOT NULL,
    user_id       integer,
    model_name    text NOT NULL,
    model_version integer NOT NULL,
    arm           text NOT NULL CHECK (arm IN ('champion', 'challenger')),
    movie_ids     integer[] NOT NULL
);
CREATE INDEX IF NOT EXISTS impressions_served_at ON impressions (served_at);
CREATE INDEX IF NOT EXISTS impressions_user ON impressions (user_id, served_at);
CREATE INDEX IF NOT EXISTS impressions_request ON impressions (request_id);
