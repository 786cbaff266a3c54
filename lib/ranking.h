/*
 * ranking.h — offline top-k ranking metrics and RMSE (DESIGN.md,
 * "Evaluation protocols"), shared by ml-eval and ml-train's early stopping.
 *
 * Semantics (those of Microsoft `recommenders`, so published tables compare):
 *   - a user's list is the k best catalogue items by score, items the caller
 *     excluded (rated in train) never appear; equal scores rank the lower
 *     catalogue index first (callers order the catalogue by movie id, so this
 *     is "lower movie id first"); a list shorter than k is padded with -1;
 *   - relevance is binary: any test rating is relevant;
 *   - NDCG@k: DCG with gain 1 and discount 1/log2(rank + 1), divided by the
 *     ideal DCG over min(k, |relevant|) hits;
 *   - precision@k = hits / k; recall@k = hits / |relevant|;
 *   - MAP@k = (sum of precision at the rank of each hit) / |relevant|;
 *   - coverage@k = distinct recommended items / catalogue size;
 *   - users without a relevant item are not added (callers skip them);
 *     metrics are means over the users added.
 * |relevant| counts every test rating of the user, also of movies outside
 * the catalogue (they can never be hit, as with any recommender).
 *
 * Ownership: rank_eval owns its coverage flags; rank_eval_free releases them
 * (safe on a zeroed struct). Everything else works on caller memory.
 */
#ifndef LENSFLOW_RANKING_H
#define LENSFLOW_RANKING_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

/* The k best of scores[0..n) into top[0..k) (catalogue indices, best first,
 * ties to the lower index). Items scored -INFINITY are excluded: set them so
 * before the call. Slots that cannot be filled are -1. Returns the number of
 * slots filled (0 when k is 0), -1 when a score is NaN, -2 when k > 64 and its scratch
 * cannot be allocated. One pass, O(n + k * inserts): no full sort. */
long rank_topk(const float *scores, size_t n, size_t k, int32_t *top);

typedef struct rank_eval {
	size_t k, n_items;
	double ndcg, precision, recall, map; /* sums over users */
	size_t users;
	size_t distinct;     /* distinct items recommended so far */
	unsigned char *seen; /* n_items flags for coverage */
	double *ideal;	     /* ideal[j] = DCG of j + 1 hits, j < k */
} rank_eval;

/* k >= 1, n_items >= 1. EX_SOFTWARE on allocation failure. */
int rank_eval_init(rank_eval *e, size_t k, size_t n_items, lf_error *err);
/* Adds one user: top[0..k) as from rank_topk; relevant[0..n_known) the
 * sorted, distinct catalogue indices of the relevant items the catalogue
 * holds; n_relevant >= max(1, n_known) all of the user's relevant items. */
void rank_eval_add(rank_eval *e, const int32_t *top, const int32_t *relevant, size_t n_known,
		   size_t n_relevant);

typedef struct rank_result {
	double ndcg, precision, recall, map, coverage;
	size_t users;
} rank_result;

/* Means over the users added (all zero when none was). */
rank_result rank_eval_result(const rank_eval *e);
void rank_eval_free(rank_eval *e);

/* RMSE of predictions clipped to [lo, hi]. */
typedef struct rank_rmse {
	double sse;
	size_t n;
} rank_rmse;

void rank_rmse_add(rank_rmse *a, double predicted, double actual, double lo, double hi);
/* sqrt(sse / n), or NaN when nothing was added. */
double rank_rmse_value(const rank_rmse *a);

#endif
