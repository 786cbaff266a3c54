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
    index_kind       text NOT NULL,      -- 'hnsw' or 'none'
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
