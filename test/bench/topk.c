/*
 * topk — the compute floor (b) of the bench, and the exact top-k for recall.
 *
 *   topk --model M.lfe --ratings R.tsv [--k 10] --bench [--queries 20000] [--threads 1]
 *       one query = a random user's scores over every movie (cblas_sgemv on the
 *       items table, as the model ranks), the movies the user rated excluded,
 *       the k best by a min-heap; prints JSON: per-query latency p50/p99 (µs)
 *       and queries/s with --threads workers (OpenBLAS single-threaded inside each)
 *   topk --model M.lfe --ratings R.tsv [--k 10] --users FILE
 *       the exact top-k of each user id in FILE (one per line):
 *       "user TAB movie" lines, best first — what recall@k is measured against
 *
 * Users without ratings exclude nothing. A bench helper, not a tool.
 */
#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lfe.h"
#include "rng.h"
#include "tsv.h"
#include "util.h"

typedef struct model {
	const lfe_table *users, *items;
	uint32_t *roff; /* rated movies' item rows by user id: rrow[roff[u] .. roff[u+1]) */
	uint32_t *rrow;
	int32_t max_user;
	int k;
} model;

typedef struct worker {
	const model *m;
	int64_t queries;
	uint64_t seed;
	double *lat;
	pthread_t th;
} worker;

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The k best (score, row) of scores[], excluded rows set to -inf; out sorted best first. */
static int top_k(const model *m, const float *user, int32_t uid, float *scores, uint32_t *out)
{
	const lfe_table *it = m->items;
	cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)it->rows, (int)it->dim, 1.0f, it->values,
		    (int)it->dim, user, 1, 0.0f, scores, 1);
	if (uid >= 0 && uid <= m->max_user)
		for (uint32_t i = m->roff[uid]; i < m->roff[uid + 1]; i++)
			scores[m->rrow[i]] = -INFINITY;
	int n = 0, k = m->k;
	/* min-heap of rows by score, size <= k */
	for (uint32_t r = 0; r < it->rows; r++) {
		float s = scores[r];
		if (s == -INFINITY)
			continue;
		if (n == k && s <= scores[out[0]])
			continue;
		int i;
		if (n < k) {
			i = n++;
			while (i > 0 && scores[out[(i - 1) / 2]] > s) {
				out[i] = out[(i - 1) / 2];
				i = (i - 1) / 2;
			}
		} else {
			i = 0;
			for (;;) {
				int c = 2 * i + 1;
				if (c >= n)
					break;
				if (c + 1 < n && scores[out[c + 1]] < scores[out[c]])
					c++;
				if (scores[out[c]] >= s)
					break;
				out[i] = out[c];
				i = c;
			}
		}
		out[i] = r;
	}
	/* heap → best first (n is small) */
	for (int a = 0; a < n; a++)
		for (int b = a + 1; b < n; b++)
			if (scores[out[b]] > scores[out[a]] ||
			    (scores[out[b]] == scores[out[a]] && it->ids[out[b]] < it->ids[out[a]])) {
				uint32_t t = out[a];
				out[a] = out[b];
				out[b] = t;
			}
	return n;
}

static void *run(void *arg)
{
	worker *w = arg;
	const model *m = w->m;
	float *scores = malloc(m->items->rows * sizeof *scores);
	uint32_t out[1024];
	rng r;
	rng_seed(&r, w->seed);
	if (!scores)
		return NULL;
	for (int64_t q = 0; q < w->queries; q++) {
		uint32_t row = (uint32_t)rng_below(&r, m->users->rows);
		double t = mono();
		top_k(m, m->users->values + (size_t)row * m->users->dim, m->users->ids[row], scores,
		      out);
		w->lat[q] = mono() - t;
	}
	free(scores);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int build_rated(model *m, const ratings *rt)
{
	int32_t mx = 0;
	for (size_t i = 0; i < rt->n; i++)
		if (rt->rows[i].user > mx)
			mx = rt->rows[i].user;
	m->max_user = mx;
	m->roff = calloc((size_t)mx + 2, sizeof *m->roff);
	m->rrow = calloc(rt->n ? rt->n : 1, sizeof *m->rrow);
	/* movie id -> item row (-1: not in the model), so that 25M ratings are not
	 * each a scan of the items (lfe_row_of) */
	int32_t mi = 0;
	for (uint32_t r = 0; r < m->items->rows; r++)
		if (m->items->ids[r] > mi)
			mi = m->items->ids[r];
	long *row_of = malloc(((size_t)mi + 1) * sizeof *row_of);
	if (!m->roff || !m->rrow || !row_of) {
		free(row_of);
		return -1;
	}
	for (int32_t i = 0; i <= mi; i++)
		row_of[i] = -1;
	for (uint32_t r = 0; r < m->items->rows; r++)
		if (m->items->ids[r] >= 0)
			row_of[m->items->ids[r]] = (long)r;
#define ROW_OF(id) ((id) >= 0 && (id) <= mi ? row_of[id] : -1L)
	size_t n = 0;
	for (size_t i = 0; i < rt->n; i++)
		if (ROW_OF(rt->rows[i].item) >= 0)
			m->roff[rt->rows[i].user + 1]++;
	for (int32_t u = 0; u <= mx; u++)
		m->roff[u + 1] += m->roff[u];
	uint32_t *fill = calloc((size_t)mx + 1, sizeof *fill);
	if (!fill) {
		free(row_of);
		return -1;
	}
	for (size_t i = 0; i < rt->n; i++) {
		long row = ROW_OF(rt->rows[i].item);
		if (row < 0)
			continue;
		int32_t u = rt->rows[i].user;
		m->rrow[m->roff[u] + fill[u]++] = (uint32_t)row;
		n++;
	}
#undef ROW_OF
	free(fill);
	free(row_of);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"model", required_argument, NULL, 'm'},  {"ratings", required_argument, NULL, 'r'},
		{"k", required_argument, NULL, 'k'},	  {"bench", no_argument, NULL, 'b'},
		{"queries", required_argument, NULL, 'q'}, {"threads", required_argument, NULL, 't'},
		{"users", required_argument, NULL, 'u'},  {NULL, 0, NULL, 0}};
	const char *mpath = NULL, *rpath = NULL, *upath = NULL;
	int64_t k = 10, queries = 20000, threads = 1;
	int bench = 0, o;
	log_set_prog("topk");
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		int bad = 0;
		switch (o) {
		case 'm': mpath = optarg; break;
		case 'r': rpath = optarg; break;
		case 'u': upath = optarg; break;
		case 'b': bench = 1; break;
		case 'k': bad = parse_i64(optarg, 1, 1024, &k); break;
		case 'q': bad = parse_i64(optarg, 1, 100000000, &queries); break;
		case 't': bad = parse_i64(optarg, 1, 64, &threads); break;
		default: bad = 1;
		}
		if (bad) {
			log_error("bad option (see the comment at the top of topk.c)");
			return EX_USAGE;
		}
	}
	if (!mpath || !rpath || bench == !!upath) {
		log_error("usage: topk --model M.lfe --ratings R.tsv (--bench | --users FILE)");
		return EX_USAGE;
	}
	openblas_set_num_threads(1);
	lf_error err = {0};
	lfe f = {0};
	ratings rt = {0};
	model m = {.k = (int)k};
	FILE *fm = fopen(mpath, "rb"), *fr = fopen(rpath, "r");
	if (!fm || !fr || lfe_read(fm, mpath, &f, &err) < 0 || ratings_read(fr, rpath, &rt, &err) < 0) {
		log_error("%s", err.msg[0] ? err.msg : "cannot open the model or the ratings");
		return EX_NOINPUT;
	}
	fclose(fm);
	fclose(fr);
	m.users = lfe_find(&f, "users");
	m.items = lfe_find(&f, "items");
	if (!m.users || !m.items || m.users->dim != m.items->dim || build_rated(&m, &rt) < 0) {
		log_error("%s: no users/items tables of one dimension, or out of memory", mpath);
		return EX_DATAERR;
	}
	if (upath) {
		FILE *fu = fopen(upath, "r");
		float *scores = malloc(m.items->rows * sizeof *scores);
		uint32_t out[1024];
		char line[64];
		if (!fu || !scores) {
			log_error("%s: cannot open", upath);
			return EX_NOINPUT;
		}
		while (fgets(line, sizeof line, fu)) {
			int64_t uid;
			line[strcspn(line, "\n")] = 0;
			if (parse_i64(line, 0, INT32_MAX, &uid) < 0)
				continue;
			long row = lfe_row_of(m.users, (int32_t)uid);
			if (row < 0)
				continue;
			int n = top_k(&m, m.users->values + (size_t)row * m.users->dim, (int32_t)uid,
				      scores, out);
			for (int i = 0; i < n; i++)
				printf("%lld\t%d\n", (long long)uid, m.items->ids[out[i]]);
		}
		fclose(fu);
		free(scores);
	} else {
		worker *w = calloc((size_t)threads, sizeof *w);
		double *all = calloc((size_t)(queries * threads), sizeof *all);
		if (!w || !all)
			return EX_SOFTWARE;
		double t0 = mono();
		for (int i = 0; i < threads; i++) {
			w[i] = (worker){.m = &m, .queries = queries, .seed = (uint64_t)i + 1,
					.lat = all + i * queries};
			pthread_create(&w[i].th, NULL, run, &w[i]);
		}
		for (int i = 0; i < threads; i++)
			pthread_join(w[i].th, NULL);
		double wall = mono() - t0;
		size_t n = (size_t)(queries * threads);
		qsort(all, n, sizeof *all, cmp);
		printf("{\"items\": %u, \"dim\": %u, \"k\": %lld, \"threads\": %lld, \"queries\": %zu, "
		       "\"qps\": %.1f, \"p50_us\": %.2f, \"p99_us\": %.2f}\n",
		       m.items->rows, m.items->dim, (long long)k, (long long)threads, n,
		       (double)n / wall, all[n / 2] * 1e6, all[(size_t)((double)n * 0.99)] * 1e6);
		free(w);
		free(all);
	}
	free(m.roff);
	free(m.rrow);
	ratings_free(&rt);
	lfe_free(&f);
	return 0;
}
