/*
 * store_sets.c — one model version's embeddings into pgvector (store.h):
 * the set's tables created, filled by binary COPY, keyed, indexed, analysed
 * and registered in embedding_sets in ONE transaction, under an advisory
 * lock per (model, version). A row in embedding_sets therefore means whole
 * tables; a crash or a kill at any point leaves nothing. The checksum makes
 * a repeated load a no-op and a different file under a loaded version an
 * error.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "store.h"
#include "store_compact.h"
#include "util.h"

/* quoted names of a set's tables */
typedef struct set_names {
	char qusers[PG_IDENT_MAX], qitems[PG_IDENT_MAX], qdirs[PG_IDENT_MAX];
	char qease[PG_IDENT_MAX];
	char qnorm[PG_IDENT_MAX]; /* the items' norm index */
} set_names;

void store_set_names(const char *model, int32_t version, struct store_set_names *n)
{
	snprintf(n->users, sizeof n->users, "lf_%s_v%d_users", model, version);
	snprintf(n->items, sizeof n->items, "lf_%s_v%d_items", model, version);
	snprintf(n->dirs, sizeof n->dirs, "lf_%s_v%d_dirs", model, version);
	snprintf(n->foldin, sizeof n->foldin, "lf_%s_v%d_foldin", model, version);
}

static int quote_names(PGconn *c, const struct store_set_names *r, set_names *n, lf_error *err)
{
	if (pg_ident(c, r->users, n->qusers, sizeof n->qusers, err) < 0 ||
	    pg_ident(c, r->items, n->qitems, sizeof n->qitems, err) < 0 ||
	    pg_ident(c, r->dirs, n->qdirs, sizeof n->qdirs, err) < 0 ||
	    pg_ident(c, r->foldin, n->qease, sizeof n->qease, err) < 0)
		return -1;
	char norm[PG_IDENT_MAX + 8];
	snprintf(norm, sizeof norm, "%s_norm", r->items);
	if (pg_ident(c, norm, n->qnorm, sizeof n->qnorm, err) < 0)
		return -1;
	return 0;
}

/* Runs a statement built from quoted identifiers and integers only. */
static int execf(PGconn *c, lf_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int execf(PGconn *c, lf_error *err, const char *fmt, ...)
{
	char sql[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof sql)
		return lf_fail(err, EX_SOFTWARE, "statement too long");
	return pg_exec(c, sql, 0, NULL, err);
}

static int copy_vectors(PGconn *c, const char *qtable, const char *cols, const lfe_table *t,
			int unit, uint32_t dim, lf_error *err)
{
	char sql[512];
	pg_copy cp;
	float *dir = NULL;

	snprintf(sql, sizeof sql, "COPY %s (%s) FROM STDIN (FORMAT binary, FREEZE)", qtable, cols);
	if (unit && !(dir = lf_calloc(dim, sizeof *dir)))
		return lf_fail(err, EX_OSERR, "out of memory");
	if (pg_copy_begin(&cp, c, sql, err) < 0) {
		free(dir);
		return -1;
	}
	for (uint32_t r = 0; r < t->rows; r++) {
		const float *v = t->values + (size_t)r * t->dim;
		if (unit) {
			double ss = 0;
			for (uint32_t k = 0; k < dim; k++)
				ss += (double)v[k] * v[k];
			double inv = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
			for (uint32_t k = 0; k < dim; k++)
				dir[k] = (float)(v[k] * inv);
			v = dir;
		}
		if (pg_copy_row(&cp, 2, err) < 0) {
			pg_copy_abort(&cp);
			free(dir);
			return -1;
		}
		pg_copy_int4(&cp, t->ids[r]);
		pg_copy_vector(&cp, v, dim);
	}
	free(dir);
	return pg_copy_end(&cp, err);
}

/* 1 = loaded, 0 = unchanged, -1 = error; the caller rolls back on error. */
static int load_tx(PGconn *c, const struct store_set *d, const struct store_set_names *raw,
		   const set_names *n, lf_error *err)
{
	char ver[16], key[96], sdim[16], nu[16], ni[16];
	PGresult *res;

	snprintf(ver, sizeof ver, "%d", d->version);
	snprintf(key, sizeof key, "lensflow:set:%s:%d", d->model, d->version);
	if (pg_begin(c, err) < 0 || pg_xact_lock(c, key, err) < 0)
		return -1;
	const char *p2[] = {d->model, ver};
	res = pg_query(c,
		       "SELECT checksum FROM embedding_sets WHERE model_name = $1 AND version = $2",
		       2, p2, err);
	if (!res)
		return -1;
	if (PQntuples(res) == 1) {
		int same = strcmp(PQgetvalue(res, 0, 0), d->checksum(d->ctx)) == 0;
		PQclear(res);
		if (!same)
			return lf_fail(err, EX_DATAERR,
				       "version %d is already loaded with other embeddings; "
				       "load them as a new version",
				       d->version);
		return pg_commit(c, err) < 0 ? -1 : 0;
	}
	PQclear(res);
	/* tables without a row are left-overs of no complete set: ours to replace */
	if (execf(c, err, "DROP TABLE IF EXISTS %s, %s, %s, %s", n->qusers, n->qitems, n->qdirs,
		  n->qease) < 0 ||
	    execf(c, err, "SET LOCAL maintenance_work_mem = '256MB'") < 0 ||
	    execf(c, err,
		  "CREATE TABLE %s (user_id integer NOT NULL, embedding vector(%u) NOT NULL)",
		  n->qusers, d->dim) < 0 ||
	    execf(c, err,
		  "CREATE TABLE %s (movie_id integer NOT NULL, embedding vector(%u) NOT NULL)",
		  n->qitems, d->dim) < 0 ||
	    execf(c, err,
		  "CREATE TABLE %s (movie_id integer NOT NULL, direction vector(%u) NOT NULL)",
		  n->qdirs, d->ddim) < 0)
		return -1;
	if (d->ease &&
	    (execf(c, err, "CREATE TABLE %s (movie_id integer NOT NULL, ease vector(%u) NOT NULL)",
		   n->qease, d->ease->dim) < 0 ||
	     copy_vectors(c, n->qease, "movie_id, ease", d->ease, 0, d->ease->dim, err) < 0 ||
	     execf(c, err, "ALTER TABLE %s ADD PRIMARY KEY (movie_id)", n->qease) < 0))
		return -1;
	if (copy_vectors(c, n->qusers, "user_id, embedding", d->users, 0, d->dim, err) < 0 ||
	    copy_vectors(c, n->qitems, "movie_id, embedding", d->items, 0, d->dim, err) < 0 ||
	    copy_vectors(c, n->qdirs, "movie_id, direction", d->fold ? d->fold : d->items, 1,
			 d->ddim, err) < 0)
		return -1;
	if (d->fold && store_compact_write(c, d->model, d->version, d->fold, d->map, err) < 0)
		return -1;
	if (d->halfvec &&
	    (execf(c, err, "ALTER TABLE %s ALTER COLUMN embedding TYPE halfvec(%u) USING "
		   "embedding::halfvec(%u)", n->qusers, d->dim, d->dim) < 0 ||
	     execf(c, err, "ALTER TABLE %s ALTER COLUMN embedding TYPE halfvec(%u) USING "
		   "embedding::halfvec(%u)", n->qitems, d->dim, d->dim) < 0 ||
	     execf(c, err, "ALTER TABLE %s ALTER COLUMN direction TYPE halfvec(%u) USING "
		   "direction::halfvec(%u)", n->qdirs, d->ddim, d->ddim) < 0))
		return -1;
	const char *ops = d->halfvec ? "halfvec_ip_ops" : "vector_ip_ops";
	/* The norm as pgvector computes it (in float8), stored beside the vector,
	 * and the rows in its descending order, so that the ranking's range scan
	 * of the btree reads the heap in order (and the planner, seeing that
	 * order, takes it). After any halfvec conversion, which the column would
	 * pin; before the keys, as both statements rewrite the table. */
	if (d->index == STORE_INDEX_NORM &&
	    (execf(c, err,
		   "ALTER TABLE %s ADD COLUMN norm double precision GENERATED ALWAYS AS (%s(embedding)) "
		   "STORED",
		   n->qitems, d->halfvec ? "l2_norm" : "vector_norm") < 0 ||
	     execf(c, err, "CREATE INDEX %s ON %s (norm DESC)", n->qnorm, n->qitems) < 0 ||
	     execf(c, err, "CLUSTER %s USING %s", n->qitems, n->qnorm) < 0))
		return -1;
	if (execf(c, err, "ALTER TABLE %s ADD PRIMARY KEY (user_id)", n->qusers) < 0 ||
	    execf(c, err, "ALTER TABLE %s ADD PRIMARY KEY (movie_id)", n->qitems) < 0 ||
	    execf(c, err, "ALTER TABLE %s ADD PRIMARY KEY (movie_id)", n->qdirs) < 0)
		return -1;
	if (d->index == STORE_INDEX_HNSW &&
	    (execf(c, err,
		   "CREATE INDEX ON %s USING hnsw (embedding %s) WITH (m = 16, ef_construction = 64)",
		   n->qitems, ops) < 0 ||
	     execf(c, err,
		   "CREATE INDEX ON %s USING hnsw (direction %s) WITH (m = 16, ef_construction = 64)",
		   n->qdirs, ops) < 0))
		return -1;
	if (execf(c, err, "ANALYZE %s, %s, %s", n->qusers, n->qitems, n->qdirs) < 0)
		return -1;
	snprintf(sdim, sizeof sdim, "%u", d->dim);
	snprintf(nu, sizeof nu, "%u", d->users->rows);
	snprintf(ni, sizeof ni, "%u", d->items->rows);
	const char *p[] = {d->model,
			   ver,
			   sdim,
			   nu,
			   ni,
			   d->checksum(d->ctx),
			   store_index_name(d->index),
			   raw->users,
			   raw->items,
			   raw->dirs,
			   d->run_id,
			   d->metrics_json,
			   d->foldin_json};
	if (pg_exec(c,
		    "INSERT INTO embedding_sets (model_name, version, dim, n_users, n_items, "
		    "checksum, "
		    "index_kind, users_table, items_table, directions_table, run_id, metrics, "
		    "foldin, "
		    "loaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, "
		    "$13::jsonb, now())",
		    13, p, err) < 0)
		return -1;
	return pg_commit(c, err) < 0 ? -1 : 1;
}

int store_set_load(PGconn *c, const struct store_set *s, int *loaded, lf_error *err)
{
	struct store_set_names raw = {0};
	set_names n;
	store_set_names(s->model, s->version, &raw);
	if (quote_names(c, &raw, &n, err) < 0)
		return -1;
	int r = load_tx(c, s, &raw, &n, err);
	if (r < 0) {
		pg_rollback(c);
		return -1;
	}
	*loaded = r;
	return 0;
}
