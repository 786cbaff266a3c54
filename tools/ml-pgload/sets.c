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
#include "pg.h"
#include "pgload.h"
#include "store_compact.h"
#include "tsv.h"
#include "util.h"

typedef struct set_names {
	char users[PG_IDENT_MAX], items[PG_IDENT_MAX], dirs[PG_IDENT_MAX];    /* raw */
	char ease[PG_IDENT_MAX];
	char qusers[PG_IDENT_MAX], qitems[PG_IDENT_MAX], qdirs[PG_IDENT_MAX]; /* quoted */
	char qease[PG_IDENT_MAX];
} set_names;

typedef struct set_data {
	const lfe_table *users, *items, *foldin;
	const lfe_table *blend, *ease; /* NULL when the model has none */
	const lfe_table *fold, *map;   /* the compact form's (store_compact.h), else NULL */
	uint32_t dim, ddim; /* ranking and direction dimensions */
	uint32_t wdim;      /* the model's full width: fold's, else dim */
	float foldin_v[4];
	int hnsw; /* resolved: 1 HNSW indexes, 0 exact scans only */
} set_data;

/* blend: 1 x 9 {k_e, k_i, m, a_e, a_i, w_e, w_i, ials_alpha, ials_reg} whose
 * blocks tile the ranking vectors; ease_foldin: one k_e row per movie, in
 * the items' order. */
static int check_blend(const set_data *d, const char *name, lf_error *err)
{
	if (!d->blend)
		return d->ease ? lf_fail(err, EX_DATAERR, "%s: ease_foldin without a blend table",
					 name)
			       : 0;
	if (d->blend->rows != 1 || d->blend->dim != 9)
		return lf_fail(err, EX_DATAERR, "%s: blend is %ux%u, expected 1x9", name,
			       d->blend->rows, d->blend->dim);
	const float *b = d->blend->values;
	for (int j = 0; j < 9; j++)
		if (!isfinite(b[j]) || b[j] < 0)
			return lf_fail(err, EX_DATAERR, "%s: blend value %d is %g", name, j,
				       (double)b[j]);
	for (int j = 0; j < 3; j++)
		if (b[j] != floorf(b[j]) || b[j] > PG_VECTOR_MAX_DIM)
			return lf_fail(err, EX_DATAERR, "%s: blend block size %g is not a dimension",
				       name, (double)b[j]);
	uint32_t ke = (uint32_t)b[0], ki = (uint32_t)b[1], m = (uint32_t)b[2];
	if (ke + ki + m != d->wdim)
		return lf_fail(err, EX_DATAERR,
			       "%s: blend blocks %u + %u + %u do not make the dimension %u", name, ke,
			       ki, m, d->wdim);
	if (m && !d->foldin)
		return lf_fail(err, EX_DATAERR, "%s: a softmax-MF block without a foldin table",
			       name);
	if (!ke)
		return d->ease ? lf_fail(err, EX_DATAERR, "%s: ease_foldin without an EASE block",
					 name)
			       : 0;
	if (!d->ease)
		return lf_fail(err, EX_DATAERR, "%s: an EASE block without ease_foldin", name);
	if (d->ease->dim != ke || d->ease->rows != d->items->rows)
		return lf_fail(err, EX_DATAERR, "%s: ease_foldin is %ux%u, expected %ux%u", name,
			       d->ease->rows, d->ease->dim, d->items->rows, ke);
	if (memcmp(d->ease->ids, d->items->ids, d->items->rows * sizeof *d->items->ids) != 0)
		return lf_fail(err, EX_DATAERR, "%s: ease_foldin's movies are not the items'", name);
	return 0;
}

/* The compact form (ml-train --serve-dim): fold_items, the full-width movies
 * in the items' order, and serve_map, w x dim. Directions come from the
 * full-width movies, as without it. */
static int check_compact(set_data *d, const char *name, lf_error *err)
{
	d->wdim = d->dim;
	if (!d->fold && !d->map)
		return 0;
	if (!d->fold || !d->map)
		return lf_fail(err, EX_DATAERR, "%s: %s without %s", name,
			       d->fold ? "fold_items" : "serve_map", d->fold ? "serve_map" : "fold_items");
	if (d->fold->rows != d->items->rows ||
	    memcmp(d->fold->ids, d->items->ids, d->items->rows * sizeof *d->items->ids) != 0)
		return lf_fail(err, EX_DATAERR, "%s: fold_items' movies are not the items'", name);
	if (d->map->dim != d->dim || d->map->rows != d->fold->dim || d->fold->dim > PG_VECTOR_MAX_DIM)
		return lf_fail(err, EX_DATAERR, "%s: serve_map is %ux%u, expected %ux%u", name,
			       d->map->rows, d->map->dim, d->fold->dim, d->dim);
	d->wdim = d->fold->dim;
	return 0;
}

static int check_lfe(const lfe *m, const char *name, int hnsw, set_data *d, lf_error *err)
{
	d->users = lfe_find(m, "users");
	d->items = lfe_find(m, "items");
	d->foldin = lfe_find(m, "foldin");
	d->blend = lfe_find(m, "blend");
	d->ease = lfe_find(m, "ease_foldin");
	d->fold = lfe_find(m, "fold_items");
	d->map = lfe_find(m, "serve_map");
	if (!d->users || !d->items)
		return lf_fail(err, EX_DATAERR,
			       "%s: no '%s' table; an .lfe for serving needs users and items", name,
			       d->users ? "items" : "users");
	if (d->users->rows == 0 || d->items->rows == 0)
		return lf_fail(err, EX_DATAERR, "%s: the %s table is empty", name,
			       d->users->rows ? "items" : "users");
	if (d->users->dim != d->items->dim)
		return lf_fail(err, EX_DATAERR, "%s: users have dim %u but items dim %u", name,
			       d->users->dim, d->items->dim);
	d->dim = d->items->dim;
	if (d->dim > PG_VECTOR_MAX_DIM)
		return lf_fail(err, EX_DATAERR, "%s: dim %u is over pgvector's limit of %d", name,
			       d->dim, PG_VECTOR_MAX_DIM);
	/* auto (-1): an index only where a catalogue is big enough for the exact
	 * scan to cost more than the index's approximation (and its filtered
	 * scans) is worth: the exact scan is also the model's exact ranking */
	d->hnsw = hnsw >= 0 ? hnsw : d->items->rows >= HNSW_AUTO_MIN_ITEMS && d->dim <= PG_HNSW_MAX_DIM;
	if (d->hnsw && d->dim > PG_HNSW_MAX_DIM)
		return lf_fail(err, EX_DATAERR,
			       "%s: dim %u is over HNSW's limit of %d; load with --index none",
			       name, d->dim, PG_HNSW_MAX_DIM);
	memset(d->foldin_v, 0, sizeof d->foldin_v);
	if (d->foldin) {
		if (d->foldin->rows != 1 || d->foldin->dim != 4)
			return lf_fail(err, EX_DATAERR, "%s: foldin is %ux%u, expected 1x4", name,
				       d->foldin->rows, d->foldin->dim);
		memcpy(d->foldin_v, d->foldin->values, sizeof d->foldin_v);
	}
	if (check_compact(d, name, err) < 0)
		return -1;
	d->ddim = d->wdim - (d->foldin_v[3] != 0.0f ? 1 : 0);
	if (d->ddim == 0)
		return lf_fail(err, EX_DATAERR, "%s: dim 1 with bias_last leaves no movie factor",
			       name);
	return check_blend(d, name, err);
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

/* embedding_sets.foldin: the softmax-MF fold-in's parameters, and the blend's
 * with the EASE table's name when the model has them. */
static void foldin_json(char *out, size_t cap, const set_opts *o, const set_data *d,
			const set_names *n)
{
	size_t len = 0;
	len += (size_t)snprintf(out, cap, "{");
	if (d->foldin)
		len += (size_t)snprintf(out + len, cap - len,
					"\"user_l2\": %.9g, \"weight_alpha\": %.9g, "
					"\"weight_norm\": %.9g, \"bias_last\": %.9g",
					d->foldin_v[0], d->foldin_v[1], d->foldin_v[2],
					d->foldin_v[3]);
	if (d->blend && len < cap) {
		const float *b = d->blend->values;
		len += (size_t)snprintf(out + len, cap - len,
					"%s\"blend\": {\"k_e\": %.9g, \"k_i\": %.9g, \"m\": %.9g, "
					"\"a_e\": %.9g, \"a_i\": %.9g, \"w_e\": %.9g, "
					"\"w_i\": %.9g, \"ials_alpha\": %.9g, \"ials_reg\": %.9g}",
					d->foldin ? ", " : "", b[0], b[1], b[2], b[3], b[4], b[5],
					b[6], b[7], b[8]);
		if (d->ease && len < cap) /* [a-z0-9_] only: no escaping */
			len += (size_t)snprintf(out + len, cap - len, ", \"ease_table\": \"%s\"",
						n->ease);
	}
	if (d->fold && len < cap) {
		char fold[PG_IDENT_MAX], map[PG_IDENT_MAX];
		store_compact_names(o->model, o->version, fold, map, sizeof fold);
		len += (size_t)snprintf(out + len, cap - len,
					"%s\"compact\": {\"full_dim\": %u, \"fold_table\": \"%s\", "
					"\"map_table\": \"%s\"}",
					len > 1 ? ", " : "", d->fold->dim, fold, map);
	}
	if (len < cap)
		snprintf(out + len, cap - len, "}");
}

/* 1 = loaded, 0 = unchanged, -1 = error; the caller rolls back on error. */
static int load_tx(PGconn *c, const set_opts *o, const set_data *d, const set_names *n,
		   hasher *hash, const char *metrics, lf_error *err)
{
	char ver[16], key[96], sdim[16], nu[16], ni[16], foldin[1024];
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
	if (d->fold && store_compact_write(c, o->model, o->version, d->fold, d->map, err) < 0)
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
	snprintf(sdim, sizeof sdim, "%u", d->dim);
	snprintf(nu, sizeof nu, "%u", d->users->rows);
	snprintf(ni, sizeof ni, "%u", d->items->rows);
	foldin_json(foldin, sizeof foldin, o, d, n);
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
		    13, p, err) < 0)
		return -1;
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
			 o->model, o->version, d.users->rows, d.items->rows, d.dim,
			 now_seconds() - t0, d.hnsw ? "hnsw" : "none");
	rc = 0;
out:
	hasher_hex(&hash);
	free(metrics);
	lfe_free(&m);
	return rc;
}
