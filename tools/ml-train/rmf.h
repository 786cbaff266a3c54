/*
 * rmf.h — the rating head: Bayesian biased matrix factorisation
 *
 *   r(u, i) = mean + bu_u + bi_i + x_u . y_i + noise
 *
 * sampled by Gibbs (Salakhutdinov & Mnih's BPMF, with the per-dimension
 * Gaussian priors and Gamma hyperpriors of libFM's MCMC): each sweep draws
 * every user's [x_u, bu_u] given the items, every item's [y_i, bi_i] given
 * the users, then the prior means and precisions and the noise precision.
 * The prediction is the mean over the samples kept after burn-in. To stay
 * a single dot product (the .lfe contract), the kept samples are stored
 * side by side: X = [x^1 .. x^S] / S, Y = [y^1 .. y^S], so X_u . Y_i is the
 * mean of x^s_u . y^s_i; the biases are averaged. Only used for RMSE; the
 * ranking comes from the softmax MF.
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

typedef struct rmf_params {
	size_t dim;	/* factors per sample */
	int sweeps;	/* Gibbs sweeps in all */
	int burn_in;	/* sweeps before the first kept sample */
	int samples;	/* samples kept (evenly spaced after burn-in) */
	double init_sd; /* starting factors ~ N(0, init_sd^2) */
	double robust;	/* > 0: the noise precision of rating (u, i) is
			 * alpha tau_u tau_i, each tau ~ Gamma(robust/2, robust/2)
			 * a priori (robust BPMF: noisy raters and movies weigh
			 * less); 0: one alpha for all */
	uint64_t seed;
} rmf_params;

typedef struct rmf_model {
	size_t n_users, n_items, dim; /* dim: stored factor width (samples x factors) */
	double mean;
	float *X, *Y;	/* n_users x dim, n_items x dim */
	float *bu, *bi; /* n_users, n_items: means over the kept samples */
} rmf_model;

/* cb gets each sweep's training RMSE as its loss (val is NaN). */
int rmf_train(const csr *train, size_t n_items, const rmf_params *p, epoch_fn cb, void *ctx,
	      rmf_model *out, lf_error *err);
/* Prediction, clipped to 1..5. */
double rmf_predict(const rmf_model *m, size_t u, size_t i);
/* RMSE over every rating of val. */
double rmf_rmse(const rmf_model *m, const csr *val);
void rmf_free(rmf_model *m);

#endif
