/*
 * test_train_grad.c — ml-train's parts: the softmax-MF batch gradient
 * against central finite differences of its own loss on a tiny problem,
 * the user weights, the per-user holdout, and the rating head on a matrix
 * it can fit, and a whole (tiny) training down to the .lfe tables.
 *
 * It calls lib/ functions itself (lfe, util, metrics, log): the unit-test
 * link line puts liblensflow.a before ml-train's objects, so only what a
 * test references directly is taken from the archive.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/ml-train/dataset.h"
#include "../../tools/ml-train/rmf.h"
#include "rng.h"
#include "../../tools/ml-train/smf.h"
#include "../../tools/ml-train/train.h"
#include "lfe.h"
#include "log.h"
#include "ranking.h"
#include "tap.h"
#include "util.h"

/* 3 users x 4 items:
 *   user 0: items 0, 2      user 1: item 3      user 2: items 0, 1, 3 */
static size_t start[] = {0, 2, 3, 6};
static int32_t col[] = {0, 2, 3, 0, 1, 3};
static float val[] = {5, 3, 4, 1, 2, 5};
static const csr tiny = {3, 6, start, col, val};

#define NU 3
#define NI 4
#define DIM 2
#define W (DIM + 1)

static void tiny_model(smf_model *m, float *P, float *Q)
{
	rng g;
	rng_seed(&g, 7);
	for (int u = 0; u < NU; u++) {
		for (int k = 0; k < DIM; k++)
			P[u * W + k] = (float)(rng_normal(&g) * 0.5);
		P[u * W + DIM] = 1.0f;
	}
	for (int j = 0; j < NI * W; j++)
		Q[j] = (float)(rng_normal(&g) * 0.5); /* last column: nonzero biases */
	*m = (smf_model){NU, NI, DIM, P, Q, 1.0};
}

TEST(user_weights_have_mean_one)
{
	/* counts 2, 1, 3, alpha 0.5: raw 2^-.5, 1, 3^-.5 = 0.7071, 1, 0.5774;
	 * mean 0.7615; weights raw / mean */
	float w[NU];
	double norm;
	smf_user_weights(&tiny, 0.5, w, &norm);
	double raw[] = {pow(2, -0.5), 1.0, pow(3, -0.5)};
	CHECK_NEAR(norm, (raw[0] + raw[1] + raw[2]) / 3, 1e-12);
	CHECK_NEAR(w[0] + w[1] + w[2], 3.0, 1e-5);
	CHECK_NEAR(w[2], raw[2] / norm, 1e-6);
}

TEST(batch_gradient_matches_finite_differences)
{
	float P[NU * W], Q[NI * W], gP[NU * W], gQ[NI * W], w[NU], dP[NU * W], dQ[NI * W];
	smf_model m;
	tiny_model(&m, P, Q);
	double norm;
	smf_user_weights(&tiny, 0.4, w, &norm);
	smf_params p = {.dim = DIM, .user_l2 = 0.3, .item_l2 = 0.7, .alpha = 0.4};
	size_t batch[] = {2, 0}; /* user 1 is not in the batch: its gradient is 0 */
	memset(gP, 0, sizeof gP);
	double loss = smf_batch_grad(&m, &tiny, w, &p, batch, 2, gP, gQ);
	CHECK(isfinite(loss));
	const float h = 1e-2f;
	float *params[] = {P, Q}, *num[] = {dP, dQ};
	int sizes[] = {NU * W, NI * W};
	float scratch_gP[NU * W], scratch_gQ[NI * W];
	for (int t = 0; t < 2; t++)
		for (int j = 0; j < sizes[t]; j++) {
			if (t == 0 && j % W == DIM) {
				num[t][j] = 0; /* the constant 1 of a user is not a parameter */
				continue;
			}
			float keep = params[t][j];
			params[t][j] = keep + h;
			double up =
				smf_batch_grad(&m, &tiny, w, &p, batch, 2, scratch_gP, scratch_gQ);
			params[t][j] = keep - h;
			double down =
				smf_batch_grad(&m, &tiny, w, &p, batch, 2, scratch_gP, scratch_gQ);
			params[t][j] = keep;
			num[t][j] = (float)((up - down) / (2.0 * h));
		}
	for (int j = 0; j < NU * W; j++)
		CHECK_NEAR(gP[j], dP[j], 2e-3 + 1e-2 * fabs(dP[j]));
	for (int j = 0; j < NI * W; j++)
		CHECK_NEAR(gQ[j], dQ[j], 2e-3 + 1e-2 * fabs(dQ[j]));
	for (int k = 0; k < W; k++)
		CHECK_NEAR(gP[1 * W + k], 0.0, 0);
}

TEST(holdout_keeps_round_ratio_per_user_and_loses_nothing)
{
	/* 10 users with 1..10 ratings over 12 items: per user round(0.9 n) to
	 * fit (n = 5: 4.5 -> 4, half to even), the rest to val, disjoint */
	size_t st[11] = {0};
	int32_t c[55];
	float v[55];
	for (int u = 0; u < 10; u++) {
		st[u + 1] = st[u] + (size_t)u + 1;
		for (int t = 0; t <= u; t++) {
			c[st[u] + (size_t)t] = t;
			v[st[u] + (size_t)t] = (float)(1 + t % 5);
		}
	}
	csr all = {10, 55, st, c, v}, fit, val2;
	lf_error err = {0};
	CHECK(holdout_split(&all, 0.9, 42, &fit, &val2, &err) == 0);
	int ok = 1;
	for (int u = 0; u < 10 && ok; u++) {
		size_t n = (size_t)u + 1, nf = fit.start[u + 1] - fit.start[u];
		size_t nv = val2.start[u + 1] - val2.start[u];
		ok = nf == (size_t)nearbyint(0.9 * (double)n) && nf + nv == n;
		/* every item once, fit and val each ascending */
		int seen[12] = {0};
		for (size_t t = fit.start[u]; t < fit.start[u + 1]; t++)
			seen[fit.col[t]]++,
				ok = ok && (t == fit.start[u] || fit.col[t - 1] < fit.col[t]);
		for (size_t t = val2.start[u]; t < val2.start[u + 1]; t++)
			seen[val2.col[t]]++;
		for (size_t i = 0; i < n; i++)
			ok = ok && seen[i] == 1;
	}
	CHECK_EQ_INT(fit.start[5] - fit.start[4], 4);
	csr_free(&fit);
	csr_free(&val2);
	CHECK(ok);
}

TEST(rating_head_fits_a_low_rank_matrix)
{
	/* 20 users x 15 items, r = clip(round(3 + a_u b_i)), 70 % observed:
	 * the sample mean must fit it far better than the global mean does */
	enum { U = 20, I = 15 };
	size_t st[U + 1] = {0};
	int32_t c[U * I];
	float v[U * I];
	rng g;
	rng_seed(&g, 3);
	double a[U], b[I], sse_mean = 0, sum = 0;
	for (int u = 0; u < U; u++)
		a[u] = rng_normal(&g);
	for (int i = 0; i < I; i++)
		b[i] = rng_normal(&g);
	size_t n = 0;
	for (int u = 0; u < U; u++) {
		for (int i = 0; i < I; i++) {
			if (rng_uniform(&g) > 0.7)
				continue;
			double r = nearbyint(3 + a[u] * b[i]);
			c[n] = i;
			v[n++] = (float)(r < 1 ? 1 : r > 5 ? 5 : r);
			sum += v[n - 1];
		}
		st[u + 1] = n;
	}
	for (size_t t = 0; t < n; t++)
		sse_mean += (v[t] - sum / (double)n) * (v[t] - sum / (double)n);
	csr m = {U, n, st, c, v};
	rmf_params p = {
		.dim = 2, .sweeps = 60, .burn_in = 10, .samples = 10, .init_sd = 0.1, .seed = 1};
	rmf_model model;
	lf_error err = {0};
	CHECK(rmf_train(&m, I, &p, NULL, NULL, &model, &err) == 0);
	double fit = rmf_rmse(&model, &m);
	CHECK_EQ_INT(model.dim, 20); /* 10 samples x 2 factors side by side */
	rmf_free(&model);
	CHECK(fit < 0.5 * sqrt(sse_mean / (double)n));
}

TEST(train_all_writes_tables_whose_ids_match_the_input)
{
	/* external ids 7, 3, 11 (users) and 40, 10, 30, 20 (movies): rows are
	 * ascending ids; the users table is [p, 1], the foldin table holds
	 * the objective's constants */
	int32_t users[] = {7, 3, 11}, items[] = {10, 20, 30, 40};
	ratings r = {0};
	for (int u = 0; u < NU; u++)
		for (size_t t = start[u]; t < start[u + 1]; t++)
			CHECK(ratings_push(&r, (rating_row){users[u], items[col[t]],
							    (int32_t)val[t], 0, 0}) == 0);
	dataset d;
	lf_error err = {0};
	CHECK(dataset_build(&r, &d, &err) == 0);
	ratings_free(&r);
	CHECK_EQ_INT(d.user_ids[0], 3);
	CHECK_EQ_INT(d.item_ids[3], 40);
	train_config c = {.model = MODEL_SOFTMAX,
			  .rank = {.dim = 2,
				   .lr = 0.05,
				   .user_l2 = 0.1,
				   .item_l2 = 0.1,
				   .alpha = 0.4,
				   .batch_users = 2,
				   .patience = 2,
				   .seed = 5},
			  .epochs = 3,
			  .rating = {.dim = 2,
				     .sweeps = 5,
				     .burn_in = 1,
				     .samples = 2,
				     .init_sd = 0.1,
				     .seed = 6},
			  .validation_ratio = 0.9,
			  .seed = 5,
			  .threads = 1};
	train_result res;
	lfe m;
	log_set_level(0);
	double t0 = now_seconds();
	CHECK(train_all(&d, &c, &res, &err) == 0);
	CHECK(now_seconds() >= t0);
	CHECK(train_to_lfe(&d, &c, &res, &m, &err) == 0);
	const lfe_table *u = lfe_find(&m, "users"), *it = lfe_find(&m, "items");
	const lfe_table *fi = lfe_find(&m, "foldin"), *ru = lfe_find(&m, "rating_users");
	int ok = u && it && fi && ru && u->rows == 3 && it->rows == 4 && u->dim == 3 &&
		 ru->dim == 2 * 2 + 2 && u->ids[0] == 3 && u->ids[2] == 11 && it->ids[0] == 10 &&
		 u->values[2] == 1.0f && fi->values[3] == 1.0f &&
		 fabsf(fi->values[0] - 0.1f) < 1e-7f;
	/* the score row of the first user ranks every movie */
	float *s = ok ? lf_calloc(it->rows, sizeof *s) : NULL;
	int32_t top[4];
	for (uint32_t i = 0; s && i < it->rows; i++)
		for (uint32_t k = 0; k < u->dim; k++)
			s[i] += u->values[k] * it->values[i * it->dim + k];
	ok = ok && s && rank_topk(s, it->rows, 4, top) == 4;
	free(s);
	lfe_free(&m);
	train_result_free(&res);
	dataset_free(&d);
	CHECK(ok);
}

int main(void)
{
	RUN(user_weights_have_mean_one);
	RUN(batch_gradient_matches_finite_differences);
	RUN(holdout_keeps_round_ratio_per_user_and_loses_nothing);
	RUN(rating_head_fits_a_low_rank_matrix);
	RUN(train_all_writes_tables_whose_ids_match_the_input);
	return tap_done();
}
