/*
 * train.h — what ml-train does between reading ratings and writing the
 * model: the ranking model (softmax MF) and the rating head (Bayesian
 * biased MF), the first with its epoch count chosen on a per-user
 * validation holdout carved from train and then refitted on all of train
 * (unless fixed epochs are given), the second sampled on all of train. The
 * two are independent; with threads >= 2 the rating head runs on a thread
 * of its own, and so does the ranking refit, in step with the selection
 * (train.c says how that stays deterministic).
 *
 * EASE (ease.c) and iALS (ials.c) train on all of train, one after the
 * other on a thread of their own with threads >= 2.
 *
 * Also the records that go out with the model: per-epoch losses (TSV
 * step/name/value) and the parameters used (TSV name/value).
 *
 * Ownership: train_result owns both models and the loss log;
 * train_result_free releases them.
 */
#ifndef LENSFLOW_TRAIN_TRAIN_H
#define LENSFLOW_TRAIN_TRAIN_H

#include <stdio.h>

#include "dataset.h"
#include "ease.h"
#include "ials.h"
#include "lfe.h"
#include "log.h"
#include "rmf.h"
#include "smf.h"

/* The ranking model: the softmax MF, EASE or iALS alone, or the blend
 * (score = w_e ease / sd_ease + w_i ials / sd_ials + (1 - w_e - w_i) mf /
 * sd_mf, sd over every (user, movie) pair; still one dot product of
 * concatenated vectors). */
typedef enum { MODEL_BLEND, MODEL_SOFTMAX, MODEL_EASE, MODEL_IALS } model_kind;

typedef struct train_config {
	model_kind model;
	smf_params rank;
	ease_params ease;
	double blend_weight; /* EASE's share w_e of the blend */
	ials_params ials;
	double ials_weight; /* iALS's share w_i (0: no iALS in the blend); MF 1 - w_e - w_i */
	int epochs;	    /* > 0: fixed, no validation; 0: early stopping */
	int max_epochs;
	rmf_params rating;
	double validation_ratio;
	uint64_t seed;
	int threads;
	int mf_off;	       /* blend of EASE and iALS alone (w_e + w_i = 1), no softmax MF */
	const char *auto_rule; /* set by auto_choose: why --model auto chose this */
	size_t serve_dim;   /* > 0: users and items written at this width (compact.h) */
} train_config;

/* The softmax MF is trained (alone, or in the blend). */
static inline int uses_mf(const train_config *c)
{
	return c->model == MODEL_SOFTMAX || (c->model == MODEL_BLEND && !c->mf_off);
}

/* --model auto (auto.c): the model family and hyperparameters for the data's
 * size, from a table whose rows were chosen on validation splits carved
 * from train (docs/scale.md). Fills c (model, mf_off, weights, iALS's CG
 * steps, the rating head's sweeps) and c->auto_rule. */
void auto_choose(const dataset *d, train_config *c);

typedef struct loss_row {
	int step;
	const char *name; /* static string */
	double value;
} loss_row;

typedef struct loss_log {
	loss_row *rows;
	size_t n, cap;
	int failed; /* an append could not allocate */
} loss_log;

typedef struct train_result {
	smf_model rank;
	ease_model ease;
	ials_model ials;
	rmf_model rating;
	double ease_seconds, ials_seconds;
	int rank_epochs, rating_epochs; /* rating: Gibbs sweeps */
	double val_ndcg;		/* NaN when epochs were fixed */
	double seconds;
	loss_log rank_losses, refit_losses, rating_losses; /* one per thread */
} train_result;

int train_all(const dataset *d, const train_config *c, train_result *out, lf_error *err);
void train_result_free(train_result *r);

/* Name of a model kind as --model spells it. */
const char *model_name(model_kind k);
/* The blend's factors on the EASE and iALS blocks of the user rows (1 for a
 * model alone); -1 when a model's scores have no spread, -2 out of memory. */
int blend_scales(const train_config *c, const train_result *r, double *a_ease, double *a_ials);
/* The .lfe tables: users, items, rating_users, rating_items, and foldin
 * (softmax-mf and blend), ease_foldin (ease, blend) and blend (all but
 * softmax-mf: the blocks' layout, see output.c). */
int train_to_lfe(const dataset *d, const train_config *c, const train_result *r, lfe *out,
		 lf_error *err);
/* TSV step\tname\tvalue, ranking rows first. */
int write_losses(FILE *f, const char *name, const train_result *r, lf_error *err);
/* TSV name\tvalue of every hyperparameter used and the run's figures. */
int write_params(FILE *f, const char *name, const dataset *d, const train_config *c,
		 const train_result *r, lf_error *err);

#endif
