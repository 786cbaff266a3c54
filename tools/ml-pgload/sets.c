/*
 * sets.c — one model version's embeddings into pgvector: three tables
 *   lf_<model>_v<N>_users (user_id int PK, embedding vector(D))
 *   lf_<model>_v<N>_items (movie_id int PK, embedding vector(D))
 *   lf_<model>_v<N>_dirs  (movie_id int PK, direction vector(d))
 * created, filled by binary COPY, keyed, indexed, analysed and registered in
 * embedding_sets in ONE transaction, under an advisory lock per (model,
 * version). A row in embedding_sets therefore means whole tables; a crash or
 * a kill at any point leaves nothing. The checksum (SHA-256 of the .lfe
 * bytes) makes a repeated load a no-op and a different file under a loaded
 * version an error.
 *
 * dirs are the movie factors without the bias component (when the foldin
 * table says bias_last) scaled to unit length, for "similar movies"; a zero
 * factor stays zero.
 *
 * A model with a `blend` table (ease, ials, blend) keeps what ml-serve needs
 * to fold a new user in exactly as the model would: the blend's parameters
 * go into embedding_sets.foldin under "blend", and the EASE fold-in map
 * (`ease_foldin`, movies x k_e) into a fourth table
 *   lf_<model>_v<N>_foldin (movie_id int PK, ease vector(k_e))
 * named in foldin's "ease_table" (no index: it is read once per reload).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "lfe.h"
#include "model.h"
#include "pg.h"
#include "pgload.h"
#include "tsv.h"
#include "util.h"

typedef struct set_names {
	char users[PG_IDENT_MAX], items[PG_IDENT_MAX], dirs[PG_IDENT_MAX];    /* raw */
	char ease[PG_IDENT_MAX];
	char qusers[PG_IDENT_MAX], qitems[PG_IDENT_MAX], qdirs[PG_IDENT_MAX]; /* quoted */
	char qease[PG_IDENT_MAX];
} set_names;

typedef struct set_data {
	struct model_set m; /* the tables and parameters (lib/model.h) */
	int hnsw; /* resolved: 1 HNSW indexes, 0 exact scans only */
} set_data;

/* lib/model's checks, then pgvector's limits. */
static int check_lfe(const lfe *m, const char *name, int hnsw, set_data *d, lf_error *err)
{
	if (model_view(m, name, &d->m, err) < 0)
		return -1;
	uint32_t dim = d->m.dim;
	if (dim > PG_VECTOR_MAX_DIM)
		return lf_fail(err, EX_DATAERR, "%s: dim %u is over pgvector's limit of %d", name,
			       dim, PG_VECTOR_MAX_DIM);
	/* auto (-1): an index only where a catalogue is big enough for the exact
	 * scan to cost more than the index's approximation (and its filtered
	 * scans) is worth: the exact scan is also the model's exact ranking */
	d->hnsw = hnsw >= 0 ? hnsw : d->m.items->rows >= HNSW_AUTO_MIN_ITEMS && dim <= PG_HNSW_MAX_DIM;
	if (d->hnsw && dim > PG_HNSW_MAX_DIM)
		return lf_fail(err, EX_DATAERR,
			       "%s: dim %u is over HNSW's limit of %d; load with --index none",
			       name, dim, PG_HNSW_MAX_DIM);
	return 0;
}

static int make_names(PGconn *c, const set_opts *o, set_names *n, lf_error *err)
{
	snprintf(n->users, sizeof n->users, "lf_%s_v%d_users", o->model, o->version);
	snprintf(n->items, sizeof n->items, "lf_%s_v%d_items", o->model, o->version);
	snprintf(n->dirs, sizeof n->dirs, "lf_%s_v%d_dirs", o->model, o->version);
	snprintf(n->ease, sizeof n->ease, "lf_%s_v%d_foldin", o->model, o->version);
	if (pg_ident(c, n->users, n->qusers, sizeof n->qusers, err) < 0 ||
	    pg_ident(c, n->items, n->qitems, sizeof n->qitems, err) < 0 ||
	    pg_ident(c, n->dirs, n->qdirs, sizeof n->qdirs, err) < 0 ||
	    pg_ident(c, n->ease, n->qease, sizeof n->qease, err) < 0)
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
		return lf_fail(err, EX_SOFTWARE, "out of memory");
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

/* The shortest "%.Ng" that reads back as v (0.4925, not 0.49249999999999999). */
static void shortest(char *out, size_t cap, double v)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, cap, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/* {"ndcg@10": 0.49, ...}: names are [A-Za-z0-9_@.:/-]+ (tsv.h), no escaping. */
static char *metrics_json(const char *path, lf_error *err)
{
	metric_set ms = {0};
	FILE *f = fopen(path, "r");
	if (!f) {
		lf_fail_errno(err, EX_NOINPUT, errno, "cannot open %s", path);
		return NULL;
	}
	int rc = metrics_read(f, path, &ms, err);
	fclose(f);
	if (rc < 0)
		return NULL;
	size_t cap = 3 + ms.n * (METRIC_NAME_MAX + 32);
	char *s = malloc(cap);
	if (!s) {
		metrics_free(&ms);
		lf_fail(err, EX_SOFTWARE, "out of memory");
		return NULL;
	}
	size_t n = 0;
	s[n++] = '{';
	for (size_t i = 0; i < ms.n; i++) {
		char num[32];
		shortest(num, sizeof num, ms.items[i].value);
		n += (size_t)snprintf(s + n, cap - n, "%s\"%s\": %s", i ? ", " : "",
				      ms.items[i].name, num);
	}
	snprintf(s + n, cap - n, "}");
	metrics_free(&ms);
	return s;
}

/* The SHA-256 of the .lfe is computed by a thread of its own while the file
 * is parsed and loaded (on 1M x 64 it costs as much as the parse); it is
 * waited for only where the checksum is needed. */
typedef struct hasher {
	const unsigned char *buf;
	size_t len;
	char hex[65];
	pthread_t th;
	int running;
} hasher;

static void *hasher_main(void *arg)
{
	hasher *h = arg;
	sha256_hex(h->buf, h->len, h->hex);
	return NULL;
}

static void hasher_start(hasher *h, const unsigned char *buf, size_t len)
{
	h->buf = buf;
	h->len = len;
	h->running = pthread_create(&h->th, NULL, hasher_main, h) == 0;
	if (!h->running) /* no thread: hash here */
		sha256_hex(buf, len, h->hex);
}

static const char *hasher_hex(hasher *h)
{
	if (h->running) {
		pthread_join(h->th, NULL);
		h->running = 0;
	}
	return h->hex;
}

/* 1 = loaded, 0 = unchanged, -1 = error; the caller rolls back on error. */
static int load_tx(PGconn *c, const set_opts *o, const set_data *d, const set_names *n,
		   hasher *hash, const char *metrics, lf_error *err)
{
	char ver[16], key[96], sdim[16], nu[16], ni[16];
	PGresult *res;

	snprintf(ver, sizeof ver, "%d", o->version);
	snprintf(key, sizeof key, "lensflow:set:%s:%d", o->model, o->version);
	if (pg_begin(c, err) < 0 || pg_xact_lock(c, key, err) < 0)
		return -1;
	const char *p2[] = {o->model, ver};
	res = pg_query(c,
		       "SELECT checksum FROM embedding_sets WHERE model_name = $1 AND version = $2",
		       2, p2, err);
	if (!res)
		return -1;
	if (PQntuples(res) == 1) {
		int same = strcmp(PQgetvalue(res, 0, 0), hasher_hex(hash)) == 0;
		PQclear(res);
		if (!same)
			return lf_fail(err, EX_DATAERR,
				       "version %d is already loaded with other embeddings; "
				       "load them as a new version",
				       o->version);
		return pg_commit(c, err) < 0 ? -1 : 0;
	}
	PQclear(res);
	/* tables without a row are left-overs of no complete set: ours to replace */
	if (execf(c, err, "DROP TABLE IF EXISTS %s, %s, %s, %s", n->qusers, n->qitems, n->qdirs,
		  n->qease) < 0 ||
	    execf(c, err, "SET LOCAL maintenance_work_mem = '256MB'") < 0 ||
	    execf(c, err,
		  "CREATE TABLE %s (user_id integer NOT NULL, embedding vector(%u) NOT NULL)",
		  n->qusers, d->m.dim) < 0 ||
	    execf(c, err,
		  "CREATE TABLE %s (movie_id integer NOT NULL, embedding vector(%u) NOT NULL)",
		  n->qitems, d->m.dim) < 0 ||
	    execf(c, err,
		  "CREATE TABLE %s (movie_id integer NOT NULL, direction vector(%u) NOT NULL)",
		  n->qdirs, d->m.ddim) < 0)
		return -1;
	if (d->m.ease &&
	    (execf(c, err, "CREATE TABLE %s (movie_id integer NOT NULL, ease vector(%u) NOT NULL)",
		   n->qease, d->m.ease->dim) < 0 ||
	     copy_vectors(c, n->qease, "movie_id, ease", d->m.ease, 0, d->m.ease->dim, err) < 0 ||
	     execf(c, err, "ALTER TABLE %s ADD PRIMARY KEY (movie_id)", n->qease) < 0))
		return -1;
	if (copy_vectors(c, n->qusers, "user_id, embedding", d->m.users, 0, d->m.dim, err) < 0 ||
	    copy_vectors(c, n->qitems, "movie_id, embedding", d->m.items, 0, d->m.dim, err) < 0 ||
	    copy_vectors(c, n->qdirs, "movie_id, direction", d->m.items, 1, d->m.ddim, err) < 0)
		return -1;
	if (execf(c, err, "ALTER TABLE %s ADD PRIMARY KEY (user_id)", n->qusers) < 0 ||
	    execf(c, err, "ALTER TABLE %s ADD PRIMARY KEY (movie_id)", n->qitems) < 0 ||
	    execf(c, err, "ALTER TABLE %s ADD PRIMARY KEY (movie_id)", n->qdirs) < 0)
		return -1;
	if (d->hnsw && (execf(c, err,
			      "CREATE INDEX ON %s USING hnsw (embedding vector_ip_ops) "
			      "WITH (m = 16, ef_construction = 64)",
			      n->qitems) < 0 ||
			execf(c, err,
			      "CREATE INDEX ON %s USING hnsw (direction vector_ip_ops) "
			      "WITH (m = 16, ef_construction = 64)",
			      n->qdirs) < 0))
		return -1;
	if (execf(c, err, "ANALYZE %s, %s, %s", n->qusers, n->qitems, n->qdirs) < 0)
		return -1;
	snprintf(sdim, sizeof sdim, "%u", d->m.dim);
	snprintf(nu, sizeof nu, "%u", d->m.users->rows);
	snprintf(ni, sizeof ni, "%u", d->m.items->rows);
	/* what the fold-in needs: the parameters and the EASE table's name */
	const struct model_set *ms = &d->m;
	char *foldin = model_params_dumps(ms->has_foldin ? &ms->foldin : NULL,
					  ms->has_blend ? &ms->blend : NULL, ms->ease ? n->ease : NULL);
	if (!foldin)
		return lf_fail(err, EX_SOFTWARE, "out of memory");
	const char *p[] = {o->model,
			   ver,
			   sdim,
			   nu,
			   ni,
			   hasher_hex(hash),
			   d->hnsw ? "hnsw" : "none",
			   n->users,
			   n->items,
			   n->dirs,
			   o->run_id,
			   metrics,
			   foldin};
	if (pg_exec(c,
		    "INSERT INTO embedding_sets (model_name, version, dim, n_users, n_items, "
		    "checksum, "
		    "index_kind, users_table, items_table, directions_table, run_id, metrics, "
		    "foldin, "
		    "loaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, "
		    "$13::jsonb, now())",
		    13, p, err) < 0) {
		free(foldin);
		return -1;
	}
	free(foldin);
	return pg_commit(c, err) < 0 ? -1 : 1;
}

int set_load(PGconn *c, const set_opts *o, const unsigned char *buf, size_t len, const char *name,
	     int *loaded, lf_error *err)
{
	lfe m = {0};
	set_data d = {0};
	set_names n = {0};
	char *metrics = NULL;
	hasher hash = {0};
	int rc = -1;

	hasher_start(&hash, buf, len);
	if (lfe_parse(buf, len, name, &m, err) < 0 || check_lfe(&m, name, o->hnsw, &d, err) < 0)
		goto out;
	if (o->metrics && !(metrics = metrics_json(o->metrics, err)))
		goto out;
	if (make_names(c, o, &n, err) < 0)
		goto out;
	double t0 = now_seconds();
	int r = load_tx(c, o, &d, &n, &hash, metrics ? metrics : "{}", err);
	if (r < 0) {
		pg_rollback(c);
		goto out;
	}
	*loaded = r;
	if (r)
		log_info("%s v%d: %u users, %u items of dim %u loaded in %.2f s (index %s)",
			 o->model, o->version, d.m.users->rows, d.m.items->rows, d.m.dim,
			 now_seconds() - t0, d.hnsw ? "hnsw" : "none");
	rc = 0;
out:
	hasher_hex(&hash);
	free(metrics);
	lfe_free(&m);
	return rc;
}
