/*
 * ranking.c — see ranking.h.
 *
 * rank_topk keeps the current best k in a small array sorted best first.
 * Scanning the catalogue in index order, a new item enters only when it is
 * strictly better than the current k-th (an equal score loses: the earlier,
 * lower index already holds the place), so almost every item costs one
 * comparison and ties need no extra work.
 */
#include "ranking.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

long rank_topk(const float *scores, size_t n, size_t k, int32_t *top)
{
	size_t filled = 0;
	/* best[] scores parallel to top[]; k is small (a page of results), but
	 * stay correct for any k by allocating only when it exceeds the stack */
	float stack_best[64];
	float *best = stack_best;
	if (k > 64) {
		best = lf_calloc(k, sizeof *best);
		if (!best)
			return -2;
	}
	for (size_t j = 0; j < k; j++)
		top[j] = -1;
	int nan = 0;
	for (size_t i = 0; i < n; i++) {
		float s = scores[i];
		/* NaN compares false everywhere: it is never kept, only noted */
		nan |= s != s;
		/* k == 0: nothing is ever kept (best[k - 1] does not exist) */
		if (filled == k ? k == 0 || !(s > best[k - 1]) : !(s > -INFINITY))
			continue;
		/* position: after every kept item whose score is >= s (they are
		 * better, or tie with a lower index) */
		size_t pos = filled < k ? filled : k - 1;
		while (pos > 0 && best[pos - 1] < s) {
			best[pos] = best[pos - 1];
			top[pos] = top[pos - 1];
			pos--;
		}
		best[pos] = s;
		top[pos] = (int32_t)i;
		if (filled < k)
			filled++;
	}
	if (best != stack_best)
		free(best);
	return nan ? -1 : (long)filled;
}

int rank_eval_init(rank_eval *e, size_t k, size_t n_items, lf_error *err)
{
	memset(e, 0, sizeof *e);
	if (k == 0 || n_items == 0)
		return lf_fail(err, EX_SOFTWARE, "rank_eval_init: k and n_items must be >= 1");
	e->k = k;
	e->n_items = n_items;
	e->seen = lf_calloc(n_items, 1);
	e->ideal = lf_calloc(k, sizeof *e->ideal);
	if (!e->seen || !e->ideal) {
		rank_eval_free(e);
		return lf_fail(err, EX_OSERR, "out of memory for %zu catalogue flags", n_items);
	}
	double dcg = 0;
	for (size_t j = 0; j < k; j++) {
		dcg += 1.0 / log2((double)j + 2.0);
		e->ideal[j] = dcg;
	}
	return 0;
}

static int is_relevant(int32_t item, const int32_t *relevant, size_t n)
{
	size_t lo = ids_lower_bound(relevant, n, item);
	return lo < n && relevant[lo] == item;
}

void rank_eval_add(rank_eval *e, const int32_t *top, const int32_t *relevant, size_t n_known,
		   size_t n_relevant)
{
	if (n_relevant == 0)
		return;
	double dcg = 0, ap = 0;
	size_t hits = 0;
	for (size_t r = 0; r < e->k; r++) {
		int32_t item = top[r];
		if (item < 0)
			continue;
		if ((size_t)item < e->n_items && !e->seen[item]) {
			e->seen[item] = 1;
			e->distinct++;
		}
		if (!is_relevant(item, relevant, n_known))
			continue;
		hits++;
		dcg += 1.0 / log2((double)r + 2.0);
		ap += (double)hits / (double)(r + 1);
	}
	size_t ideal_hits = n_relevant < e->k ? n_relevant : e->k;
	e->ndcg += dcg / e->ideal[ideal_hits - 1];
	e->precision += (double)hits / (double)e->k;
	e->recall += (double)hits / (double)n_relevant;
	e->map += ap / (double)n_relevant;
	e->users++;
}

rank_result rank_eval_result(const rank_eval *e)
{
	rank_result r = {0};
	r.users = e->users;
	if (e->n_items)
		r.coverage = (double)e->distinct / (double)e->n_items;
	if (e->users == 0)
		return r;
	double n = (double)e->users;
	r.ndcg = e->ndcg / n;
	r.precision = e->precision / n;
	r.recall = e->recall / n;
	r.map = e->map / n;
	return r;
}

void rank_eval_free(rank_eval *e)
{
	free(e->seen);
	free(e->ideal);
	e->seen = NULL;
	e->ideal = NULL;
}

void rank_rmse_add(rank_rmse *a, double predicted, double actual, double lo, double hi)
{
	if (predicted < lo)
		predicted = lo;
	if (predicted > hi)
		predicted = hi;
	double d = predicted - actual;
	a->sse += d * d;
	a->n++;
}

double rank_rmse_value(const rank_rmse *a)
{
	if (a->n == 0)
		return NAN;
	return sqrt(a->sse / (double)a->n);
}
