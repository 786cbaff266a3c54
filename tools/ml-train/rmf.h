/*
 * rmf.h — the rating head: Bayesian biased matrix factorisation
 *
 *   r(u, i) = mean + bu_u + bi_i + p_u . q_i + noise
 *   p_u = x_u + |N(u)|^-1/2 sum_{j in N(u)} z_j     (N(u): movies u rated)
 *   q_i = y_i + |M(i)|^-1/2 sum_{v in M(i)} z'_v    (M(i): users who rated i)
 *
 * sampled by Gibbs (Salakhutdinov & Mnih's BPMF, with the per-dimension
 * Gaussian priors and Gamma hyperpriors of libFM's MCMC): each sweep draws
 * every user's [x_u, bu_u] given the items, every item's [y_i, bi_i] given
 * the users, then the prior means and precisions and the noise precision.
 * The implicit parts (SVD++'s for users, its mirror for movies; each can
 * be off) are Gaussian too: every z_j is drawn as a block given all else
 * (rmf.c), each side's z with its own hyperprior. N(u) and M(i) are the
 * train ratings only, never which pairs are asked for. The prediction is
 * the mean over the samples kept at the end of the chain. To stay a single
 * dot product (the .lfe contract), each kept sample's p_u and q_i (implicit
 * sums folded in) are stored side by side: X = [p^1 .. p^S] / S,
 * Y = [q^1 .. q^S], so X_u . Y_i is the mean of p^s_u . q^s_i; the biases are
 * averaged. Only used for RMSE; the ranking comes from the other models.
 *
 * The implicit parts, chosen on two 80/20 random splits of u1.base x two
 * chain seeds (dim 6, robust 20; validation RMSE, mean of the 4), at 200
 * sweeps / 60 samples: none 0.9048, users 0.9021, movies 0.8922, both 0.8908;
 * both at 80 sweeps / 60 samples 0.8914 (0.7 s CPU), 60 / 50 0.8916 (0.52 s;
 * the default: on 2 more chain seeds 0.8917 against 80 / 60's 0.8916 and
 * none's 0.9044), 120 / 100 0.8910, dim 7 0.8911, dim 8 0.8915, dim 4 0.8972 (100 sweeps);
 * robust 0 0.8953, 5 0.8924, 50 0.8914, 100 0.8921. One z per movie and
 * star level (GC-MC's rating-typed edges) was worse: 0.9016.
 *
 * With robust > 0 every user and movie also draws a noise scale (Student-t
 * noise in effect, Lakshminarayanan et al. 2011), which helped on a
 * validation holdout of u1.base (RMSE 0.910 -> 0.905).
 *
 * Why Gibbs rather than SGD/Adam: on ML-100k u1 the point-estimate biased
 * MF stays above 0.92 RMSE however its L2 is tuned (measured), while the
 * sample average needs no regularisation tuning and no validation holdout.
 *
 * Ownership: rmf_model owns one block that X starts and Y, bu, bi point
 * into; rmf_free releases it.
 */
#ifndef LENSFLOW_TRAIN_RMF_H
#define LENSFLOW_TRAIN_RMF_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "log.h"
#include "smf.h"

#define RMF_IMPLICIT_USERS 1
#define RMF_IMPLICIT_MOVIES 2

typedef struct rmf_params {
	size_t dim;	/* factors per sample */
	int sweeps;	/* Gibbs sweeps in all */
	int burn_in;	/* at least this many sweeps before the first kept sample */
	int samples;	/* samples kept, evenly spaced, the last at the last sweep */
	double init_sd; /* starting factors ~ N(0, init_sd^2) */
	double robust;	/* > 0: the noise precision of rating (u, i) is
			 * alpha tau_u tau_i, each tau ~ Gamma(robust/2, robust/2)
			 * a priori (robust BPMF: noisy raters and movies weigh
			 * less); 0: one alpha for all */
	int implicit;	/* RMF_IMPLICIT_* bits: which sides get an implicit part */
	uint64_t seed;
} rmf_params;

typedef struct rmf_model {
	size_t n_users, n_items, dim; /* dim: stored factor width (samples x factors) */
	double mean;
	double lo;	/* the scale's low end: 1 on whole stars, 0.5 with any half star */
	float *X, *Y;	/* n_users x dim, n_items x dim */
	float *bu, *bi; /* n_users, n_items: means over the kept samples */
} rmf_model;

/* cb gets each sweep's training RMSE as its loss (val is NaN). */
int rmf_train(const csr *train, size_t n_items, const rmf_params *p, epoch_fn cb, void *ctx,
	      rmf_model *out, lf_error *err);
/* Prediction, clipped to lo..5 (the scale of the training ratings). */
double rmf_predict(const rmf_model *m, size_t u, size_t i);
/* RMSE over every rating of val. */
double rmf_rmse(const rmf_model *m, const csr *val);
void rmf_free(rmf_model *m);

#endif
