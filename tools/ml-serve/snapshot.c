/*
 * snapshot.c — see snapshot.h. The set's rows are read in binary (ids as
 * int4, vectors in pgvector's binary form: int16 dim, int16 unused, float4[dim],
 * all big-endian), so the in-memory vectors are exactly the stored ones.
 * The holder is a pointer guarded by a mutex held only for a pointer copy and
 * a reference increment.
 */
#include "snapshot.h"

#include <jansson.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blendfold.h"
#include "body.h"
#include "jsontext.h"
#include "pgbin.h"
#include "store.h"
#include "tsv.h"
#include "util.h"

static pthread_mutex_t holder_lock = PTHREAD_MUTEX_INITIALIZER;
static struct snapshot *holder[ARM_COUNT];
static double challenger_share; /* under holder_lock */
static _Atomic uint64_t generations;

static void snapshot_free(struct snapshot *s)
{
	if (!s)
		return;
	if (s->titles_json)
		for (size_t i = 0; i < s->n_items; i++)
			free(s->titles_json[i]);
	for (size_t i = 0; i < s->n_metrics; i++)
		free(s->metric_names[i]);
	free(s->metric_names);
	free(s->metric_values);
	free(s->titles_json);
	free(s->title_lens);
	free(s->row_of);
	free(s->items);
	free(s->item_ids);
	free(s->user_ids);
	free(s->model_name);
	free(s->run_id);
	free(s->users_sql);
	free(s->items_sql);
	free(s->dirs_sql);
	model_fold_free(&s->fold);
	compactform_free(&s->compact);
	free(s);
}

void snapshot_release(struct snapshot *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1)
		snapshot_free(s);
}

struct snapshot *snapshot_current_arm(enum arm arm)
{
	pthread_mutex_lock(&holder_lock);
	struct snapshot *s = holder[arm];
	if (s)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&holder_lock);
	return s;
}

struct snapshot *snapshot_current(void)
{
	return snapshot_current_arm(ARM_CHAMPION);
}

void snapshot_publish_arm(enum arm arm, struct snapshot *s)
{
	pthread_mutex_lock(&holder_lock);
	struct snapshot *old = holder[arm];
	holder[arm] = s;
	pthread_mutex_unlock(&holder_lock);
	snapshot_release(old);
}

void snapshot_publish(struct snapshot *s)
{
	snapshot_publish_arm(ARM_CHAMPION, s);
}

void snapshot_set_share(double share)
{
	pthread_mutex_lock(&holder_lock);
	challenger_share = share;
	pthread_mutex_unlock(&holder_lock);
}

double snapshot_share(void)
{
	pthread_mutex_lock(&holder_lock);
	double share = holder[ARM_CHALLENGER] ? challenger_share : 0.0;
	pthread_mutex_unlock(&holder_lock);
	return share;
}

/* splitmix64's finaliser: every bit of x moves about half of the result's. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

double arm_draw(uint64_t key, int challenger_version)
{
	uint64_t salt = mix64(UINT64_C(0x6c656e73666c6f77) ^ (uint64_t)(uint32_t)challenger_version);
	return (double)(mix64(key ^ salt) >> 11) * 0x1p-53;
}

struct snapshot *snapshot_pick(uint64_t key, enum arm *arm)
{
	pthread_mutex_lock(&holder_lock);
	struct snapshot *ch = holder[ARM_CHALLENGER];
	*arm = ch && arm_draw(key, ch->version) < challenger_share ? ARM_CHALLENGER : ARM_CHAMPION;
	struct snapshot *s = holder[*arm];
	if (s)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&holder_lock);
	return s;
}

void snapshot_clear(void)
{
	snapshot_publish_arm(ARM_CHALLENGER, NULL);
	snapshot_publish_arm(ARM_CHAMPION, NULL);
}

/* The row of id in the sorted ids[0..n), or -1. */
static long find_id(const int32_t *ids, size_t n, int64_t id)
{
	size_t lo = ids_lower_bound(ids, n, id);
	return lo < n && ids[lo] == id ? (long)lo : -1;
}

int snapshot_has_user(const struct snapshot *s, int64_t user_id)
{
	return find_id(s->user_ids, s->n_users, user_id) >= 0;
}

long snapshot_item_row(const struct snapshot *s, int64_t movie_id)
{
	if (s->row_of) {
		int64_t at = movie_id - s->row_of_base;
		return at >= 0 && (uint64_t)at < s->row_of_n ? (long)s->row_of[at] : -1;
	}
	return find_id(s->item_ids, s->n_items, movie_id);
}

static char *quote_ident(PGconn *conn, const char *name, lf_error *err)
{
	char *q = PQescapeIdentifier(conn, name, strlen(name));
	if (!q) {
		const char *m = PQerrorMessage(conn);
		lf_fail(err, PQstatus(conn) == CONNECTION_OK ? EX_DATAERR : EX_UNAVAILABLE,
			"quoting a table name: %.*s", (int)strcspn(m, "\n"), m);
		return NULL;
	}
	char *copy = strdup(q);
	PQfreemem(q);
	if (!copy)
		lf_fail(err, EX_OSERR, "out of memory");
	return copy;
}

/* Fills foldin params and offline metrics from the set's jsonb columns. */
static int parse_set_json(struct snapshot *s, const char *metrics, const char *foldin,
			  lf_error *err)
{
	json_error_t je;
	json_t *f = json_loads(foldin, 0, &je);
	if (!json_is_object(f)) {
		json_decref(f);
		return lf_fail(err, EX_DATAERR, "embedding_sets.foldin of v%d is not a JSON object",
			       s->version);
	}
	int rc = compactform_parse(&s->compact, f, s->dim, err);
	if (rc == 0)
		rc = model_fold_parse(&s->fold, f, s->compact.present ? s->compact.wdim : s->dim,
				      err);
	json_decref(f);
	if (rc < 0)
		return -1;

	json_t *m = json_loads(metrics, 0, &je);
	if (!json_is_object(m)) {
		json_decref(m);
		return lf_fail(err, EX_DATAERR, "embedding_sets.metrics of v%d is not a JSON object",
			       s->version);
	}
	size_t n = json_object_size(m);
	s->metric_names = calloc(n ? n : 1, sizeof *s->metric_names);
	s->metric_values = calloc(n ? n : 1, sizeof *s->metric_values);
	if (!s->metric_names || !s->metric_values) {
		json_decref(m);
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	const char *key;
	json_t *v;
	json_object_foreach(m, key, v) {
		if (!json_is_number(v) || !isfinite(json_number_value(v)))
			continue;
		if (!(s->metric_names[s->n_metrics] = strdup(key))) {
			json_decref(m);
			return lf_fail(err, EX_OSERR, "out of memory");
		}
		s->metric_values[s->n_metrics++] = json_number_value(v);
	}
	json_decref(m);
	return 0;
}

static int load_users(PGconn *conn, struct snapshot *s, lf_error *err)
{
	PGresult *r = store_set_users(conn, s->users_sql, err);
	if (!r)
		return -1;
	size_t n = (size_t)PQntuples(r);
	s->user_ids = calloc(n ? n : 1, sizeof *s->user_ids);
	if (!s->user_ids) {
		PQclear(r);
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (pgbin_int4(r, (int)i, 0, &s->user_ids[i]) < 0) {
			PQclear(r);
			return lf_fail(err, EX_DATAERR, "a user id of v%d is not an int4", s->version);
		}
	}
	s->n_users = n;
	PQclear(r);
	return 0;
}

/* A dense id -> row table when the ids (sorted, distinct) span at most four
 * times their number: one load per answered movie instead of a binary search.
 * Sparser ids keep the search. */
static int index_rows(struct snapshot *s, lf_error *err)
{
	size_t n = s->n_items;
	if (n == 0 || n > INT32_MAX)
		return 0;
	int64_t span = (int64_t)s->item_ids[n - 1] - s->item_ids[0] + 1;
	if (span > 4 * (int64_t)n + 64)
		return 0;
	s->row_of = malloc((size_t)span * sizeof *s->row_of);
	if (!s->row_of)
		return lf_fail(err, EX_OSERR, "out of memory");
	s->row_of_base = s->item_ids[0];
	s->row_of_n = (size_t)span;
	for (size_t i = 0; i < s->row_of_n; i++)
		s->row_of[i] = -1;
	for (size_t i = 0; i < n; i++) {
		/* the query sorts them; a repeated id keeps its first row, as the search does */
		int64_t at = (int64_t)s->item_ids[i] - s->row_of_base;
		if (at < 0 || at >= span)
			return lf_fail(err, EX_DATAERR, "the movie ids of v%d are not sorted",
				       s->version);
		if (s->row_of[at] < 0)
			s->row_of[at] = (int32_t)i;
	}
	return 0;
}

static int load_items(PGconn *conn, struct snapshot *s, lf_error *err)
{
	PGresult *r = store_set_items(conn, s->items_sql, err);
	if (!r)
		return -1;
	size_t n = (size_t)PQntuples(r), dim = s->dim;
	s->item_ids = calloc(n ? n : 1, sizeof *s->item_ids);
	s->titles_json = calloc(n ? n : 1, sizeof *s->titles_json);
	s->title_lens = calloc(n ? n : 1, sizeof *s->title_lens);
	s->items = calloc(n ? n * dim : 1, sizeof *s->items);
	if (!s->item_ids || !s->titles_json || !s->title_lens || !s->items) {
		PQclear(r);
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	s->n_items = n;
	for (size_t i = 0; i < n; i++) {
		int row = (int)i;
		if (pgbin_int4(r, row, 0, &s->item_ids[i]) < 0 ||
		    pgbin_vector(r, row, 1, dim, NULL, s->items + i * dim) < 0) {
			PQclear(r);
			return lf_fail(err, EX_DATAERR,
				       "movie row %zu of v%d is not a vector of dimension %zu", i,
				       s->version, dim);
		}
		/* A title that is not UTF-8 stays NULL: no answer could carry it. */
		size_t chars;
		if (!PQgetisnull(r, row, 2) && utf8_count(PQgetvalue(r, row, 2), (size_t)PQgetlength(r, row, 2), &chars) == 0) {
			int len = PQgetlength(r, row, 2);
			if (!(s->titles_json[i] = json_quote(PQgetvalue(r, row, 2), (size_t)len))) {
				PQclear(r);
				return lf_fail(err, EX_OSERR, "out of memory");
			}
			s->title_lens[i] = strlen(s->titles_json[i]);
		}
	}
	PQclear(r);
	return index_rows(s, err);
}

/* The set's row: version, dim, tables, run id, metrics, foldin. */
static int load_row(PGconn *conn, struct snapshot *s, int version, lf_error *err)
{
	PGresult *r = store_set_row(conn, s->model_name, version, err);
	if (!r)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return lf_fail(err, EX_DATAERR, "version %d of model %s is not loaded", version,
			       s->model_name);
	}
	int64_t got, dim;
	if (parse_i64(PQgetvalue(r, 0, 0), 1, INT32_MAX, &got) < 0 ||
	    parse_i64(PQgetvalue(r, 0, 1), 1, 16000, &dim) < 0) {
		PQclear(r);
		return lf_fail(err, EX_DATAERR, "the served set's version or dim is malformed");
	}
	s->version = (int)got;
	s->dim = (size_t)dim;
	int rc = -1;
	if ((s->users_sql = quote_ident(conn, PQgetvalue(r, 0, 2), err)) &&
	    (s->items_sql = quote_ident(conn, PQgetvalue(r, 0, 3), err)) &&
	    (s->dirs_sql = quote_ident(conn, PQgetvalue(r, 0, 4), err))) {
		s->index = store_index_parse(PQgetvalue(r, 0, 8));
		if (!(s->run_id = strdup(PQgetvalue(r, 0, 5))))
			lf_fail(err, EX_OSERR, "out of memory");
		else
			rc = parse_set_json(s, PQgetvalue(r, 0, 6), PQgetvalue(r, 0, 7), err);
	}
	PQclear(r);
	if (rc == 0 && strlen(s->items_sql) > 200)
		rc = lf_fail(err, EX_DATAERR, "the set's table names are too long");
	return rc;
}

int snapshot_load(PGconn *conn, const char *model_name, int version, struct snapshot **out,
		  lf_error *err)
{
	struct snapshot *s = calloc(1, sizeof *s);
	if (!s || !(s->model_name = strdup(model_name))) {
		free(s);
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	atomic_init(&s->refs, 1);
	int rc = store_read_begin(conn, err);
	if (rc == 0) {
		rc = load_row(conn, s, version, err);
		if (rc == 0)
			rc = load_users(conn, s, err);
		if (rc == 0)
			rc = load_items(conn, s, err);
		if (rc == 0)
			rc = compactform_load(&s->compact, conn, s->item_ids, s->n_items, s->dim,
					      err);
		if (rc == 0)
			rc = blendfold_load(&s->fold, conn, s->item_ids, s->n_items,
					    s->compact.present ? s->compact.fold : s->items,
					    s->compact.present ? s->compact.wdim : s->dim, err);
		store_read_end(conn, rc == 0);
	}
	/* A blend's fold-in keeps its own copies of the blocks it reads (model_fold_derive):
	 * the full-width movies are not needed any more (ML-25M's shape: 62k x 320 doubles,
	 * 159 MB), and the freed result buffers go back to the system (glibc keeps a
	 * thread's arena otherwise: 64 MB after loading that set) */
	if (rc == 0 && s->fold.has_blend && s->compact.present) {
		free(s->compact.fold);
		s->compact.fold = NULL;
	}
	malloc_trim(0);
	if (rc < 0) {
		snapshot_free(s);
		return -1;
	}
	if (s->n_items == 0) {
		snapshot_free(s);
		return lf_fail(err, EX_DATAERR, "the served set of %s has no movies", model_name);
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->loaded_at = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	s->generation = atomic_fetch_add(&generations, 1) + 1;
	*out = s;
	return 0;
}
