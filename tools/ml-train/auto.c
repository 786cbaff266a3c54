/*
 * auto.c — `ml-train --model auto`: the model for the data's size (see
 * train.h). Two rows, chosen on validation splits carved from train (a
 * 90/10 per-user ml-split of a synthetic 1M's train split; docs/scale.md
 * has the runs: val NDCG@10 of the blend with the MF 0.1570, of EASE +
 * iALS 0.1541 at ML-100k's settings and 0.1579 at these; iALS alpha 5
 * 0.1579, 10 0.1574, 20 0.1429; EASE's share 0.3 0.1579, 0.5 0.1567, 0.7
 * 0.1556):
 *
 *   up to 2M ratings and dense EASE fits    the blend as tuned on ML-100k
 *                                           (EASE, iALS, softmax MF): the
 *                                           same bytes as --model blend
 *   beyond                                  EASE (sparse path) + iALS by CG,
 *                                           EASE's share 0.3, its l2 and
 *                                           iALS's alpha as below,
 *                                           no softmax MF (a full softmax
 *                                           costs users x movies x dim an
 *                                           epoch, and its epochs chosen at
 *                                           100k do not carry over); a
 *                                           shorter rating head chain with
 *                                           the movies' implicit part only
 *                                           (each implicit side about
 *                                           doubles a sweep; synthetic 1M:
 *                                           RMSE 0.7212 against 0.7157 for
 *                                           30 sweeps with both, in 43 %
 *                                           of the CPU); with --serve-dim
 *                                           given, the compact form at 64
 *                                           dimensions
 *
 * The row sets the fields named above over any option given (for other
 * values, name the model: --model blend and its options). The row is
 * recorded as the params' model_auto.
 */
#include "train.h"

#define AUTO_SMALL_RATINGS 2000000
#define AUTO_LARGE_EASE_WEIGHT 0.3
/* EASE's l2 per mean movie popularity (ratings / movies): ML-100k's tuned
 * 500 is 11 x its 44.6; on a synthetic 1M's validation split 2000 (= 11 x
 * 178) beat 500, 5000 and 15000 */
#define AUTO_LARGE_EASE_L2_PER_POP 11.0
#define AUTO_LARGE_IALS_ALPHA 5.0
/* the compact form's width when one is asked for (--serve-dim): on the same
 * validation split ease-ials at 32 dimensions 0.1381, at 64 0.1606, at its
 * full 320 0.1579 (ML-100k's 32 was chosen for the blend's 401) */
#define AUTO_LARGE_SERVE_DIM 64

void auto_choose(const dataset *d, train_config *c)
{
	c->model = MODEL_BLEND;
	if (d->all.n <= AUTO_SMALL_RATINGS && ease_dense_fits(d->n_users, d->n_items)) {
		c->auto_rule = "small: blend of ease, ials, softmax-mf (ML-100k tuning)";
		return;
	}
	c->mf_off = 1;
	c->blend_weight = AUTO_LARGE_EASE_WEIGHT;
	c->ials_weight = 1.0 - AUTO_LARGE_EASE_WEIGHT;
	c->ials.cg_steps = 3;
	c->ials.alpha = AUTO_LARGE_IALS_ALPHA;
	c->ease.l2 = AUTO_LARGE_EASE_L2_PER_POP * (double)d->all.n /
		     (double)(d->n_items ? d->n_items : 1);
	c->rating.sweeps = 20;
	c->rating.burn_in = 6;
	c->rating.samples = 10;
	c->rating.implicit = RMF_IMPLICIT_MOVIES;
	if (c->serve_dim)
		c->serve_dim = AUTO_LARGE_SERVE_DIM;
	c->auto_rule = "large: ease-ials (w_e 0.3; ease sparse, l2 11 x ratings/movies; ials cg 3, "
		       "alpha 5; no softmax-mf); rating head 20 sweeps, 10 samples, implicit movies; "
		       "a compact form at 64";
}
