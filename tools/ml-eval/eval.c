/*
 * eval.c — see eval.h. Train and test ratings become (user id, catalogue
 * index) pairs sorted by user, so each evaluated user's excluded and
 * relevant movies are two contiguous runs found by walking both arrays
 * together in user order.
 */
#include "eval.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranking.h"
#include "model.h"
#include "rng.h"
#include "util.h"

#define BLOCK 256 /* users scored per sgemm */

typedef struct pair {
	int32_t user, item; /* item: catalogue index, -1 outside the catalogue */
} pair;

typedef struct id_row {
	int32_t id;
	uint32_t row;
} id_row;

static int cmp_pair(const void *a, const void *b)
{
	const pair *x = a, *y = b;
	if (x->user != y->user)
		return (x->user > y->user) - (x->user < y->user);
	return (x->item > y->item) - (x->item < y->item);
}

static int cmp_id_row(const void *a, const void *b)
{
	const id_row *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

static long find(const id_row *map, size_t n, int32_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (map[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && map[lo].id == id ? (long)lo : -1;
}

/* Sorted (id, row) pairs of a table's ids. */
static id_row *index_ids(const int32_t *ids, size_t n)
{
	id_row *map = lf_calloc(n ? n : 1, sizeof *map);
	if (!map)
		return NULL;
	for (size_t r = 0; r < n; r++)
		map[r] = (id_row){ids[r], (uint32_t)r};
	qsort(map, n, sizeof *map, cmp_id_row);
	return map;
}

/* (user, catalogue index) of every rating, sorted. */
static pair *to_pairs(const ratings *r, const id_row *cat, size_t n_cat)
{
	pair *p = lf_calloc(r->n ? r->n : 1, sizeof *p);
	if (!p)
		return NULL;
	for (size_t j = 0; j < r->n; j++)
		p[j] = (pair){r->rows[j].user, (int32_t)find(cat, n_cat, r->rows[j].item)};
	qsort(p, r->n, sizeof *p, cmp_pair);
	return p;
}

typedef struct scorer {
	size_t n_cat, dim;
	const float *items;   /* n_cat x dim in catalogue order (model) */
	const float *popular; /* n_cat counts (baseline) */
	const lfe_table *users;
	const id_row *user_map;
	float *ublock; /* BLOCK x dim */
} scorer;

typedef struct state {
	const double *novelty; /* n_cat: -log2(share of train users who rated it) */
	const id_row *cat;
	FILE *lists;	    /* non-NULL: print the lists instead */
	double novelty_sum; /* sum over users of their list's mean novelty */
	const pair *tr, *te;
	size_t n_tr, n_te, at_tr, at_te;
} state;

/* Ranks one block of users (ids[0..m), rows[] their user rows or -1 for
 * the baseline) into ev. */
static int rank_block(const scorer *s, state *st, const int32_t *ids, const long *rows, size_t m,
		      float *S, size_t k, int32_t *top, int32_t *rel, rank_eval *ev, lf_error *err)
{
	size_t n = s->n_cat;
	if (s->items) {
		for (size_t r = 0; r < m; r++)
			memcpy(s->ublock + r * s->dim, s->users->values + (size_t)rows[r] * s->dim,
			       s->dim * sizeof(float));
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)s->dim,
			    1.0f, s->ublock, (int)s->dim, s->items, (int)s->dim, 0.0f, S, (int)n);
	}
	for (size_t r = 0; r < m; r++) {
		float *sc = S + (s->items ? r * n : 0);
		if (!s->items)
			memcpy(sc, s->popular, n * sizeof(float));
		while (st->at_tr < st->n_tr && st->tr[st->at_tr].user < ids[r])
			st->at_tr++;
		for (; st->at_tr < st->n_tr && st->tr[st->at_tr].user == ids[r]; st->at_tr++)
			if (st->tr[st->at_tr].item >= 0)
				sc[st->tr[st->at_tr].item] = -INFINITY;
		long got = rank_topk(sc, n, k, top);
		if (got < 0)
			return lf_fail(err, got == -1 ? EX_DATAERR : EX_OSERR,
				       got == -1 ? "the model's scores of user %d are not finite"
						 : "out of memory ranking user %d",
				       ids[r]);
		while (st->at_te < st->n_te && st->te[st->at_te].user < ids[r])
			st->at_te++;
		size_t known = 0, all = 0;
		for (; st->at_te < st->n_te && st->te[st->at_te].user == ids[r]; st->at_te++, all++)
			if (st->te[st->at_te].item >= 0)
				rel[known++] = st->te[st->at_te].item;
		rank_eval_add(ev, top, rel, known, all);
		double nov = 0;
		size_t filled = 0;
		for (size_t j = 0; j < k && top[j] >= 0; j++, filled++) {
			nov += st->novelty[top[j]];
			if (st->lists)
				fprintf(st->lists, "%d\t%zu\t%d\t%.9g\n", ids[r], j + 1,
					st->cat[top[j]].id, (double)sc[top[j]]);
		}
		st->novelty_sum += filled ? nov / (double)filled : 0.0;
	}
	return 0;
}

/* Predictions are clipped to the data's scale: 1..5 on whole stars, 0.5..5
 * when train or test holds a half star (ML-10M and later). */
static double scale_low(const ratings *train, const ratings *test)
{
	const ratings *both[2] = {train, test};
	for (int k = 0; k < 2; k++)
		for (size_t j = 0; j < both[k]->n; j++)
			if (both[k]->rows[j].rating != floorf(both[k]->rows[j].rating))
				return RATING_MIN;
	return 1.0;
}

static int add_rmse(const lfe *model, const ratings *test, double lo, metric_set *out,
		    lf_error *err)
{
	const lfe_table *ru = lfe_find(model, MODEL_T_RATING_USERS),
			*ri = lfe_find(model, MODEL_T_RATING_ITEMS);
	if (!ru || !ri)
		return 0;
	if (ru->dim != ri->dim)
		return lf_fail(err, EX_DATAERR, "stdin: rating_users has dim %u, rating_items %u",
			       ru->dim, ri->dim);
	id_row *um = index_ids(ru->ids, ru->rows), *im = index_ids(ri->ids, ri->rows);
	if (!um || !im) {
		free(um);
		free(im);
		return lf_fail(err, EX_OSERR, "out of memory indexing the rating tables");
	}
	rank_rmse acc = {0};
	for (size_t j = 0; j < test->n; j++) {
		long u = find(um, ru->rows, test->rows[j].user);
		long i = find(im, ri->rows, test->rows[j].item);
		if (u < 0 || i < 0)
			continue;
		const float *x = ru->values + (size_t)um[u].row * ru->dim;
		const float *y = ri->values + (size_t)im[i].row * ri->dim;
		double dot = 0;
		for (size_t c = 0; c < ru->dim; c++)
			dot += (double)x[c] * y[c];
		rank_rmse_add(&acc, dot, test->rows[j].rating, lo, RATING_MAX);
	}
	free(um);
	free(im);
	if (acc.n && metrics_set(out, "rmse", rank_rmse_value(&acc)) < 0)
		return lf_fail(err, EX_OSERR, "out of memory for the metrics");
	return 0;
}

/* The catalogue: ascending movie ids (map[c].id), and for a model its item
 * vectors in that order; for the baseline the train rating counts. */
static int build_catalogue(const lfe *model, const ratings *train, id_row **map, size_t *n,
			   float **vec, size_t *dim, lf_error *err)
{
	if (model) {
		const lfe_table *it = lfe_find(model, MODEL_T_ITEMS), *us = lfe_find(model, MODEL_T_USERS);
		if (!it || !us)
			return lf_fail(err, EX_DATAERR, "stdin: the model has no %s table",
				       it ? MODEL_T_USERS : MODEL_T_ITEMS);
		if (it->dim != us->dim)
			return lf_fail(err, EX_DATAERR,
				       "stdin: users have dim %u but items %u; not a ranking model",
				       us->dim, it->dim);
		if (it->rows == 0)
			return lf_fail(err, EX_DATAERR, "stdin: the items table is empty");
		*n = it->rows;
		*dim = it->dim;
		if (!(*map = index_ids(it->ids, it->rows)) ||
		    !(*vec = lf_calloc((size_t)it->rows * it->dim, sizeof(float))))
			return lf_fail(err, EX_OSERR, "out of memory for the catalogue");
		for (size_t c = 0; c < *n; c++)
			memcpy(*vec + c * *dim, it->values + (size_t)(*map)[c].row * *dim,
			       *dim * sizeof(float));
		return 0;
	}
	int32_t *ids = lf_calloc(train->n ? train->n : 1, sizeof *ids);
	if (!ids)
		return lf_fail(err, EX_OSERR, "out of memory for the catalogue");
	for (size_t j = 0; j < train->n; j++)
		ids[j] = train->rows[j].item;
	*map = index_ids(ids, train->n);
	free(ids);
	if (!*map)
		return lf_fail(err, EX_OSERR, "out of memory for the catalogue");
	size_t m = 0;
	for (size_t j = 0; j < train->n; j++)
		if (m == 0 || (*map)[m - 1].id != (*map)[j].id)
			(*map)[m++] = (*map)[j];
	*n = m;
	*dim = 0;
	if (!(*vec = lf_calloc(m ? m : 1, sizeof(float))))
		return lf_fail(err, EX_OSERR, "out of memory for the catalogue");
	for (size_t j = 0; j < train->n; j++)
		(*vec)[find(*map, m, train->rows[j].item)] += 1.0f;
	return 0;
}

/* -log2 of the share of train users who rated each catalogue item (at
 * least one rating counted, so unrated catalogue items stay finite). */
static double *novelty_of(const pair *tr, size_t n_tr, size_t n_cat)
{
	double *nov = lf_calloc(n_cat ? n_cat : 1, sizeof *nov);
	if (!nov)
		return NULL;
	size_t users = 0;
	for (size_t j = 0; j < n_tr; j++) {
		users += j == 0 || tr[j].user != tr[j - 1].user;
		if (tr[j].item >= 0)
			nov[tr[j].item] += 1.0;
	}
	for (size_t c = 0; c < n_cat; c++)
		nov[c] = -log2(fmax(nov[c], 1.0) / (double)(users ? users : 1));
	return nov;
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* The test users to rank (ascending): all of them, or `want` drawn by a
 * seeded shuffle of the distinct test user ids in ascending order. *n gets
 * the count; NULL with *n == 0: every user (no sampling). */
static int32_t *sample_users(const pair *te, size_t n_te, size_t want, uint64_t seed, size_t *n,
			     lf_error *err)
{
	*n = 0;
	size_t users = 0;
	for (size_t j = 0; j < n_te; j++)
		users += j == 0 || te[j].user != te[j - 1].user;
	if (want == 0 || want >= users)
		return NULL;
	int32_t *ids = lf_calloc(users, sizeof *ids);
	if (!ids) {
		lf_fail(err, EX_OSERR, "out of memory for the user sample");
		return NULL;
	}
	for (size_t j = 0, u = 0; j < n_te; j++)
		if (j == 0 || te[j].user != te[j - 1].user)
			ids[u++] = te[j].user;
	rng g;
	rng_seed(&g, seed);
	rng_shuffle(&g, ids, users, sizeof *ids);
	qsort(ids, want, sizeof *ids, cmp_i32);
	*n = want;
	return ids;
}

int evaluate(const lfe *model, const ratings *train, const ratings *test, size_t k,
	     const eval_sample *smp, FILE *lists, metric_set *out, size_t *skipped,
	     lf_error *err)
{
	int32_t *chosen = NULL;
	size_t n_chosen = 0, at_chosen = 0;
	double *nov = NULL;
	id_row *cat = NULL, *umap = NULL;
	float *vec = NULL, *S = NULL, *ublock = NULL;
	pair *tr = NULL, *te = NULL;
	int32_t *top = NULL, *rel = NULL, ids[BLOCK];
	long rows[BLOCK];
	size_t n_cat = 0, dim = 0;
	rank_eval ev = {0};
	int rc = -1;
	*skipped = 0;
	if (build_catalogue(model, train, &cat, &n_cat, &vec, &dim, err) < 0)
		goto done;
	const lfe_table *users = model ? lfe_find(model, MODEL_T_USERS) : NULL;
	if (rank_eval_init(&ev, k, n_cat, err) < 0)
		goto done;
	tr = to_pairs(train, cat, n_cat);
	te = to_pairs(test, cat, n_cat);
	top = lf_calloc(k, sizeof *top);
	rel = lf_calloc(test->n ? test->n : 1, sizeof *rel);
	S = lf_calloc((model ? BLOCK : 1) * n_cat, sizeof *S);
	if (tr && !(nov = novelty_of(tr, train->n, n_cat)))
		tr = (free(tr), NULL);
	if (!tr || !te || !top || !rel || !S ||
	    (model && (!(umap = index_ids(users->ids, users->rows)) ||
		       !(ublock = lf_calloc((size_t)BLOCK * dim, sizeof(float)))))) {
		lf_fail(err, EX_OSERR, "out of memory for the evaluation");
		goto done;
	}
	if (smp && smp->users) {
		chosen = sample_users(te, test->n, smp->users, smp->seed, &n_chosen, err);
		if (!chosen && n_chosen == 0 && err->code)
			goto done;
	}
	scorer s = {n_cat, dim, model ? vec : NULL, model ? NULL : vec, users, umap, ublock};
	state st = {nov, cat, lists, 0.0, tr, te, train->n, test->n, 0, 0};
	size_t m = 0;
	for (size_t j = 0; j < test->n; j++) {
		if (j > 0 && te[j].user == te[j - 1].user)
			continue;
		if (chosen) {
			while (at_chosen < n_chosen && chosen[at_chosen] < te[j].user)
				at_chosen++;
			if (at_chosen == n_chosen || chosen[at_chosen] != te[j].user)
				continue;
		}
		long row = -1;
		if (model) {
			long at = find(umap, users->rows, te[j].user);
			if (at < 0) {
				(*skipped)++;
				continue;
			}
			row = umap[at].row;
		}
		ids[m] = te[j].user;
		rows[m++] = row;
		if (m == BLOCK) {
			if (rank_block(&s, &st, ids, rows, m, S, k, top, rel, &ev, err) < 0)
				goto done;
			m = 0;
		}
	}
	if (m && rank_block(&s, &st, ids, rows, m, S, k, top, rel, &ev, err) < 0)
		goto done;
	if (ev.users == 0) {
		lf_fail(err, EX_DATAERR, "no test user is known to the model; nothing to evaluate");
		goto done;
	}
	rank_result res = rank_eval_result(&ev);
	char name[METRIC_NAME_MAX];
	const char *base[] = {"ndcg", "precision", "recall", "map", "coverage", "novelty"};
	double val[] = {res.ndcg, res.precision, res.recall,
			res.map,  res.coverage,	 st.novelty_sum / (double)res.users};
	for (size_t t = 0; t < 6; t++) {
		snprintf(name, sizeof name, "%s@%zu", base[t], k);
		if (metrics_set(out, name, val[t]) < 0) {
			lf_fail(err, EX_OSERR, "out of memory for the metrics");
			goto done;
		}
	}
	if (model && add_rmse(model, test, scale_low(train, test), out, err) < 0)
		goto done;
	if (metrics_set(out, "users", (double)res.users) < 0) {
		lf_fail(err, EX_OSERR, "out of memory for the metrics");
		goto done;
	}
	rc = 0;
done:
	free(cat), free(umap), free(vec), free(S), free(ublock), free(tr), free(te), free(top);
	free(rel), free(nov), free(chosen);
	rank_eval_free(&ev);
	return rc;
}
