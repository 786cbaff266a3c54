/*
 * sets.c — one model version's embeddings into pgvector: the .lfe checked as
 * lib/model says a served set must be (and against pgvector's limits), its
 * offline metrics and fold-in parameters as JSON, its SHA-256 computed beside
 * the parse, and the whole set loaded in one transaction by lib/store
 * (store_set_load: the tables, their layout and the registration).
 *
 * dirs are the movie factors without the bias component (when the foldin
 * table says bias_last) scaled to unit length, for "similar movies"; a model
 * with a `blend` table keeps what ml-serve needs to fold a new user in: the
 * parameters in embedding_sets.foldin and the EASE fold-in map in a fourth
 * table named there (lib/model.h, lib/store.h).
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "lfe.h"
#include "model.h"
#include "pg.h"
#include "pgload.h"
#include "store.h"
#include "store_compact.h"
#include "tsv.h"
#include "util.h"

typedef struct set_data {
	struct model_set m; /* the tables and parameters (lib/model.h) */
	enum store_index index; /* resolved from --index */
} set_data;

/* lib/model's checks, then pgvector's limits. */
static int check_lfe(const lfe *m, const char *name, int index, set_data *d, lf_error *err)
{
	if (model_view(m, name, &d->m, err) < 0)
		return -1;
	uint32_t dim = d->m.dim;
	if (dim > PG_VECTOR_MAX_DIM)
		return lf_fail(err, EX_DATAERR, "%s: dim %u is over pgvector's limit of %d", name,
			       dim, PG_VECTOR_MAX_DIM);
	/* auto (-1): HNSW only where a catalogue is big enough for the exact scan
	 * to cost more than the index's approximation (and its filtered scans) is
	 * worth; below, the exact scan, pruned by norm: the model's exact ranking */
	if (index >= 0)
		d->index = (enum store_index)index;
	else
		d->index = d->m.items->rows >= HNSW_AUTO_MIN_ITEMS && dim <= PG_HNSW_MAX_DIM
				   ? STORE_INDEX_HNSW
				   : STORE_INDEX_NORM;
	if (d->index == STORE_INDEX_HNSW && dim > PG_HNSW_MAX_DIM)
		return lf_fail(err, EX_DATAERR,
			       "%s: dim %u is over HNSW's limit of %d; load with --index none",
			       name, dim, PG_HNSW_MAX_DIM);
	return 0;
}

/* One metric as `"name": value` into f: the name encoded by jansson (quotes,
 * escapes), the value as fmt_double writes it. jansson would print a real with
 * "%.17g" (or one fixed precision for all), and the jsonb keeps the decimal
 * text it is given: 0.49249999999999999 is not 0.4925. */
static int put_metric(FILE *f, const char *name, double v, int first)
{
	json_t *key = json_string(name);
	char *k = key ? json_dumps(key, JSON_ENCODE_ANY) : NULL;
	json_decref(key);
	if (!k)
		return -1;
	char num[FMT_DOUBLE_MAX];
	int bad = (!first && fputs(", ", f) == EOF) || fputs(k, f) == EOF ||
		  fputs(": ", f) == EOF || fputs(fmt_double(num, v), f) == EOF;
	free(k);
	return bad ? -1 : 0;
}

/* {"ndcg@10": 0.4925, ...} in the metrics TSV's order (caller frees). */
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
	char *s = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&s, &len);
	rc = out && fputc('{', out) != EOF ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < ms.n; i++)
		rc = put_metric(out, ms.items[i].name, ms.items[i].value, i == 0);
	if (rc == 0 && fputc('}', out) == EOF)
		rc = -1;
	if (out && fclose(out) != 0)
		rc = -1;
	metrics_free(&ms);
	if (rc < 0) {
		free(s);
		lf_fail(err, EX_OSERR, "out of memory");
		return NULL;
	}
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

static const char *checksum_of(void *ctx)
{
	return hasher_hex(ctx);
}

int set_load(PGconn *c, const set_opts *o, const unsigned char *buf, size_t len, const char *name,
	     int *loaded, lf_error *err)
{
	lfe m = {0};
	set_data d = {0};
	struct store_set_names names = {0};
	char *metrics = NULL, *foldin = NULL;
	hasher hash = {0};
	int rc = -1;

	hasher_start(&hash, buf, len);
	if (lfe_parse(buf, len, name, &m, err) < 0 || check_lfe(&m, name, o->index, &d, err) < 0)
		goto out;
	if (o->metrics && !(metrics = metrics_json(o->metrics, err)))
		goto out;
	/* what the fold-in needs: the parameters and the EASE table's name */
	const struct model_set *ms = &d.m;
	store_set_names(o->model, o->version, &names);
	foldin = model_params_dumps(ms->has_foldin ? &ms->foldin : NULL,
				    ms->has_blend ? &ms->blend : NULL, ms->ease ? names.foldin : NULL);
	if (foldin && ms->fold) { /* the compact form's tables (lib/store_compact.h) */
		char *with = store_compact_foldin(foldin, o->model, o->version, ms->wdim);
		free(foldin);
		foldin = with;
	}
	if (!foldin) {
		lf_fail(err, EX_OSERR, "out of memory");
		goto out;
	}
	struct store_set set = {
		.model = o->model,
		.version = o->version,
		.users = ms->users,
		.items = ms->items,
		.ease = ms->ease,
		.fold = ms->fold,
		.map = ms->map,
		.dim = ms->dim,
		.ddim = ms->ddim,
		.index = d.index,
		.halfvec = o->halfvec,
		.run_id = o->run_id,
		.metrics_json = metrics ? metrics : "{}",
		.foldin_json = foldin,
		.checksum = checksum_of,
		.ctx = &hash,
	};
	double t0 = now_seconds();
	if (store_set_load(c, &set, loaded, err) < 0)
		goto out;
	if (*loaded)
		log_info("%s v%d: %u users, %u items of dim %u loaded in %.2f s (index %s)",
			 o->model, o->version, ms->users->rows, ms->items->rows, ms->dim,
			 now_seconds() - t0, store_index_name(d.index));
	rc = 0;
out:
	hasher_hex(&hash);
	free(metrics);
	free(foldin);
	lfe_free(&m);
	return rc;
}
