/*
 * store.h — the database's shape, on lib/pg: the one place outside sql/ that
 * holds SQL. sql/schema.sql has the shared tables (movies, ratings,
 * catalogue_meta, embedding_sets, serving, serving_history); this module has
 * everything that reads or writes them and the per-set tables:
 *
 *   a set of model M version N    lf_M_vN_users (user_id int PK, embedding vector(D))
 *                                 lf_M_vN_items (movie_id int PK, embedding vector(D)
 *                                                [, norm float8 generated: ||embedding||])
 *                                 lf_M_vN_dirs  (movie_id int PK, direction vector(d))
 *                                 lf_M_vN_foldin (movie_id int PK, ease vector(k_e)),
 *                                 with EASE only (model.h's ease_foldin)
 *
 * created, filled by binary COPY, keyed, indexed (store_index below), analysed and registered in embedding_sets in
 * ONE transaction under an advisory lock per (model, version)
 * (store_sets.c); switched, listed and pruned (store_registry.c); the
 * catalogue (store_catalogue.c); the schema (store_schema.c); what ml-serve
 * reads: the served set and its ranking queries (store_serve.c).
 * Identifiers are built only from validated model names and integer
 * versions and quoted with PQescapeIdentifier; values travel as parameters.
 *
 * Errors: 0 / -1 with lf_error as lib/pg (ml-pgload's functions) or, for the
 * serving reads, EX_DATAERR when the server answered with an error (a table
 * missing) and EX_UNAVAILABLE when it did not answer.
 *
 * Ownership: results (PGresult) are the caller's to PQclear; text returned
 * by store_query_sql is written into the caller's buffer; nothing is kept
 * between calls.
 */
#ifndef LENSFLOW_STORE_H
#define LENSFLOW_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "lfe.h"
#include "log.h"
#include "pg.h"

struct movies;  /* tsv.h */
struct ratings;

/* ---- schema (store_schema.c) --------------------------------------------- */

/* sql/schema.sql, embedded at build time, NUL-terminated. */
extern const char store_schema_sql[];

/* Applies the schema in its own transaction under an advisory lock. */
int store_schema_apply(PGconn *c, lf_error *err);

/* Model names as the schema's CHECK: ^[a-z][a-z0-9_]{0,31}$. */
int store_model_name_ok(const char *name);

/* ---- catalogue (store_catalogue.c) ---------------------------------------- */

/* Movies and ratings (every rating's movie in mv, its time in Postgres'
 * range, rows sorted by user then movie) in one transaction, identified by
 * checksum; *loaded = 1 when written, 0 when that checksum was loaded. */
int store_catalogue_load(PGconn *c, const struct movies *mv, const struct ratings *rt,
			 const char *checksum,
			 int *loaded, lf_error *err);

/* ---- sets (store_sets.c) --------------------------------------------------- */

/* The raw names of a set's tables (lf_<model>_v<N>_users …). */
struct store_set_names {
	char users[PG_IDENT_MAX], items[PG_IDENT_MAX], dirs[PG_IDENT_MAX];
	char foldin[PG_IDENT_MAX];
};
void store_set_names(const char *model, int32_t version, struct store_set_names *n);

/* How a set's movies are ranked for a user:
 *   NONE  every movie scored (the exact ranking);
 *   NORM  the same exact ranking, reading only the movies whose norm can reach
 *         the k-th best score (Cauchy-Schwarz: u.v <= ||u|| ||v||): items get a
 *         generated norm column and a btree on it; the bound comes from the
 *         highest-norm movies first (store_serve.c);
 *   HNSW  pgvector's HNSW graphs on items and dirs (approximate; large
 *         catalogues).
 * The values are ml-pgload's --index choices and embedding_sets.index_kind. */
enum store_index { STORE_INDEX_NONE = 0, STORE_INDEX_HNSW = 1, STORE_INDEX_NORM = 2 };
/* "none", "hnsw", "norm" */
const char *store_index_name(enum store_index i);
/* The kind named by embedding_sets.index_kind; an unknown name is NONE (a
 * plain scan is right for every set). */
enum store_index store_index_parse(const char *name);

/* One set as ml-pgload loads it: the .lfe's tables (borrowed) and the row's
 * values. checksum(ctx) gives the SHA-256 of the .lfe when it is needed
 * (it may still be being computed). */
struct store_set {
	const char *model;            /* validated (store_model_name_ok) */
	int32_t version;              /* > 0 */
	const lfe_table *users, *items;
	const lfe_table *ease;        /* or NULL */
	const lfe_table *fold, *map;  /* the compact form (store_compact.h), or NULL */
	uint32_t dim, ddim;           /* ranking and direction dimensions */
	enum store_index index;       /* how items (and dirs) are indexed */
	int halfvec;                  /* users, items and dirs as halfvec (pgvector >= 0.7):
				       * COPY'd as vector, then converted */
	const char *run_id;           /* or NULL */
	const char *metrics_json;     /* "{}" at least */
	const char *foldin_json;      /* model.h's embedding_sets.foldin */
	const char *(*checksum)(void *ctx);
	void *ctx;
};

/* Loads the set in one transaction, or finds the same checksum loaded
 * (*loaded = 0); another checksum under the version is EX_DATAERR. dirs are
 * the items' first ddim components scaled to unit length (a zero row stays
 * zero). */
int store_set_load(PGconn *c, const struct store_set *s, int *loaded, lf_error *err);

/* ---- registry (store_registry.c) ------------------------------------------ */

/* Serving moves of one model, serialised by an advisory lock so that
 * serving_history's from_version is the version really replaced.
 * store_switch prints "serving N"; store_serving the version (EX_NOINPUT
 * when none); store_list the TSV model, version, dim, users, items, index,
 * serving yes/no, loaded_at, run_id, checksum; store_prune drops all but the
 * newest keep sets, the serving one and the one it replaced, and prints
 * "model\tversion" per dropped set once committed. */
int store_switch(PGconn *c, const char *model, int32_t version, FILE *out, lf_error *err);
int store_serving(PGconn *c, const char *model, FILE *out, lf_error *err);
int store_list(PGconn *c, FILE *out, lf_error *err);
int store_prune(PGconn *c, const char *model, int64_t keep, FILE *out, lf_error *err);

/* ---- serving (store_serve.c): what ml-serve runs ---------------------------- */

/* Session settings of a serving connection: statement_timeout, and HNSW
 * scans that keep going until they have k rows in exact distance order. */
int store_session(PGconn *c, int statement_timeout_ms, lf_error *err);

/* ml-serve's statements. The set queries take the set's quoted table names
 * and k (written into the text so that the planner keeps a plan for it that
 * can use an HNSW index); their rows are (movie_id int4, score float8), the
 * score -(a <#> b), the inner product, equal to the model's own score:
 *   STORE_USER_RECS      $1 user id; the user's vector through a one-row
 *                        LATERAL so HNSW can serve ORDER BY; movies the user rated
 *                        excluded, in the catalogue (ratings) or through POST
 *                        /feedback (feedback, by its primary key's user_id prefix)
 *   STORE_NEW_USER_RECS  $1 a vector (text), $2 movies to exclude (int[])
 *   STORE_SIMILAR        $1 movie id; on the dirs table
 * The others' rows are text:
 *   STORE_SEARCH         $1 ILIKE pattern, $2 prefix pattern, $3 limit:
 *                        movie_id, title, year, genres (JSON)
 *   STORE_MOVIE          $1 movie id: the same columns
 *   STORE_USER_RATINGS   $1 user id, $2 limit: the same and rating
 *   STORE_PING           one row */
enum store_query {
	STORE_USER_RECS,
	STORE_NEW_USER_RECS,
	STORE_SIMILAR,
	STORE_SEARCH,
	STORE_MOVIE,
	STORE_USER_RATINGS,
	STORE_PING,
	STORE_N_QUERIES
};
#define STORE_IS_SET_QUERY(q) ((q) <= STORE_SIMILAR)

/* "user_recs", "search", …: the prefix of the prepared statements' names
 * (an array: ml-serve indexes it on every ranked request). */
extern const char *const store_query_names[STORE_N_QUERIES];
/* The statement's text for a set indexed as index into out (cap bytes); -1
 * when it does not fit. */
int store_query_sql(enum store_query q, const char *users_sql, const char *items_sql,
		    const char *dirs_sql, enum store_index index, int k, char *out, size_t cap);
/* Drops every prepared statement of the session (a new set replaces them). */
int store_forget_prepared(PGconn *c, lf_error *err);

/* The served set, read in one REPEATABLE READ READ ONLY transaction:
 * store_read_begin, the reads, store_read_end (commit = 0 rolls back). */
int store_read_begin(PGconn *c, lf_error *err);
void store_read_end(PGconn *c, int commit);

/* The version `serving` points at for model (0 when none). */
int store_served_version(PGconn *c, const char *model, int *version, lf_error *err);
/* Set `version`'s row, text: version, dim, users_table, items_table,
 * directions_table, run_id ('' when none), metrics (JSON), foldin (JSON),
 * index_kind (store_index_parse); zero rows when it is not loaded. (Which versions serve: store_serving.h.) */
PGresult *store_set_row(PGconn *c, const char *model, int version, lf_error *err);
/* Binary rows: the users' ids (int4) in order; the movies (int4 id, vector,
 * text title or NULL when not in the catalogue) in id order; the EASE
 * fold-in map (int4 id, vector) in id order, from its raw table name. */
PGresult *store_set_users(PGconn *c, const char *users_sql, lf_error *err);
PGresult *store_set_items(PGconn *c, const char *items_sql, lf_error *err);
PGresult *store_set_ease(PGconn *c, const char *foldin_table, lf_error *err);

#endif
