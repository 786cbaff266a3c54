/*
 * smf.h — the full-softmax matrix factorisation (the parity model of the
 * Python package). For a user u with train movies I_u it minimises
 *
 *   -c_u * sum_{i in I_u} log softmax(Q p_u + b)_i  +  user_l2 * |p_u|^2
 *
 * plus item_l2 * (|Q|^2 + |b|^2) spread over the batches in proportion to
 * their users, with c_u = n_u^-alpha normalised to mean 1 over users.
 * Minibatches of users, Adam; a batch's gradients are three sgemm calls:
 * S = P_B Q^T (then the softmax), dP_B = G Q, dQ = G^T P_B with
 * G = c (n softmax - targets) / |B|. The bias rides along as a last
 * column, users [p_u, 1] and items [q_i, b_i] (the stored layout), so the
 * same three calls also give the logits' bias and its gradient.
 *
 * Ownership: smf_model owns P and Q; smf_free releases them.
 */
#ifndef LENSFLOW_TRAIN_SMF_H
#define LENSFLOW_TRAIN_SMF_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "log.h"

typedef struct smf_params {
	size_t dim;
	double lr, user_l2, item_l2, alpha;
	size_t batch_users;
	int patience; /* validation epochs without improvement before stopping */
	double ema;   /* > 0: the model is the moving average of the weights over
		       * steps, avg = ema * avg + (1 - ema) * w (validated too) */
	uint64_t seed;
} smf_params;

typedef struct smf_model {
	size_t n_users, n_items, dim; /* dim factors; rows are dim + 1 wide */
	float *P;		      /* n_users x (dim + 1): [p_u, 1] */
	float *Q;		      /* n_items x (dim + 1): [q_i, b_i] */
	double weight_norm;	      /* mean of n_u^-alpha over the users trained on */
} smf_model;

/* Called after each epoch; val is NaN when there is no validation. */
typedef void (*epoch_fn)(void *ctx, const char *stage, int epoch, int epochs, double loss,
			 double val, double seconds);

typedef struct smf_run {
	int max_epochs;	   /* epochs to train (with val: the upper bound) */
	const csr *val;	   /* NULL: train exactly max_epochs epochs */
	const char *stage; /* name given to cb */
	epoch_fn cb;
	void *ctx;
	/* after each epoch (and its validation); returns 1 to stop there.
	 * May be NULL. */
	int (*after)(void *actx, int epoch, const smf_model *m, int best);
	void *actx;
	int chosen;	 /* out: best epoch on val (max_epochs without val) */
	double best_val; /* out: its NDCG@10 (NaN without val) */
} smf_run;

/* Trains a new model on train (users x n_items). */
int smf_train(const csr *train, size_t n_items, const smf_params *p, smf_run *run, smf_model *out,
	      lf_error *err);

/* The objective of one batch and its gradients (gP: the batch's rows only,
 * their last column 0; gQ: all of it, last column the bias gradient), for
 * the finite-difference test. P_B is gathered from users[0..m). Returns the
 * batch loss (the sum over its users plus the batch's share of the item
 * penalty, divided by m), or NaN on allocation failure. */
double smf_batch_grad(const smf_model *mdl, const csr *train, const float *weight,
		      const smf_params *p, const size_t *users, size_t m, float *gP, float *gQ);

/* n_u^-alpha / norm for every row of train; *norm gets the mean of n_u^-alpha. */
int smf_user_weights(const csr *train, double alpha, float *w, double *norm);

/* NDCG@10 of the model on val, train's items excluded; users without val
 * items skipped. -1 on allocation failure or NaN scores. */
int smf_val_ndcg(const smf_model *mdl, const csr *train, const csr *val, double *ndcg,
		 lf_error *err);

void smf_free(smf_model *m);

#endif
