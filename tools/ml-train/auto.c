/*
 * auto.c — `ml-train --model auto`: the model for the data's size (see
 * train.h). Two rows, chosen on validation splits carved from train
 * (docs/scale.md has the runs):
 *
 *   up to 2M ratings and dense EASE fits    the blend as tuned on ML-100k
 *                                           (EASE, iALS, softmax MF): the
 *                                           same bytes as --model blend
 *   beyond                                  EASE (sparse path) + iALS by CG,
 *                                           no softmax MF (a full softmax
 *                                           costs users x movies x dim an
 *                                           epoch, and its epochs chosen at
 *                                           100k do not carry over); a
 *                                           shorter rating head chain
 *
 * The row sets the fields named above over any option given (for other
 * values, name the model: --model blend and its options). The row is
 * recorded as the params' model_auto.
 */
#include "train.h"

#define AUTO_SMALL_RATINGS 2000000
#define AUTO_LARGE_EASE_WEIGHT 0.5

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
	c->rating.sweeps = 40;
	c->rating.burn_in = 10;
	c->rating.samples = 20;
	c->auto_rule = "large: blend of ease (sparse), ials (cg 3), no softmax-mf; rating head "
		       "40 sweeps, 20 samples";
}
