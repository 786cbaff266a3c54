/*
 * test_serve_blendfold.c — ml-serve's block-by-block fold-in of a blend:
 * the EASE block is the sum of the rated movies' fold-in rows, the iALS
 * block solves iALS's normal equations (checked here by their residual,
 * computed independently), the MF block is foldin_solve on the MF columns,
 * and malformed blend parameters are refused.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/ml-serve/blendfold.h"
#include "log.h"
#include "rng.h"
#include "tap.h"

enum { N = 40, KE = 3, KI = 4, M = 3, DIM = KE + KI + M };

static void random_items(double *items, float *ease, uint64_t seed)
{
	rng g;
	rng_seed(&g, seed);
	for (size_t i = 0; i < (size_t)N * DIM; i++)
		items[i] = rng_normal(&g) * 0.5;
	for (size_t i = 0; i < (size_t)N * KE; i++)
		ease[i] = (float)rng_normal(&g);
}

static void make(struct blendfold *b, double *items, float *ease, lf_error *err)
{
	json_t *f = json_pack("{s:{s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f}, s:s}", "blend",
			      "k_e", KE, "k_i", KI, "m", M, "a_e", 2.0, "a_i", 1.5, "w_e", 0.2,
			      "w_i", 0.5, "ials_alpha", 7.0, "ials_reg", 3.0, "ease_table", "t");
	int rc = blendfold_parse(b, f, DIM, err);
	json_decref(f);
	CHECK(rc == 0);
	CHECK(b->present && b->ke == KE && b->ki == KI && b->m == M);
	b->ease = malloc(sizeof(float) * N * KE);
	CHECK(b->ease != NULL);
	memcpy(b->ease, ease, sizeof(float) * N * KE);
	CHECK(blendfold_derive(b, items, N, DIM, err) == 0);
}

TEST(each_block_is_what_the_model_defines)
{
	static double items[N * DIM];
	static float ease[N * KE];
	random_items(items, ease, 5);
	lf_error err = {0};
	struct blendfold b = {0};
	make(&b, items, ease, &err);
	CHECK(b.mf != NULL);
	size_t rows[] = {0, 7, 19, 33};
	size_t nr = sizeof rows / sizeof *rows;
	struct foldin_params fp = {.user_l2 = 1.0, .weight_alpha = 0.4, .weight_norm = 1.0,
				   .bias_last = 1};
	double out[DIM];
	CHECK(blendfold_solve(&b, items, N, DIM, rows, nr, &fp, out, &err) == 0);

	/* EASE: the sum of the rated rows */
	for (size_t j = 0; j < KE; j++) {
		double s = 0;
		for (size_t r = 0; r < nr; r++)
			s += ease[rows[r] * KE + j];
		CHECK_NEAR(out[j], s, 1e-12);
	}
	/* iALS: (Q^T Q + alpha Q_r^T Q_r + reg I) p = (1 + alpha) Q_r^T 1 with p = out / a_i */
	double p[KI];
	for (size_t j = 0; j < KI; j++)
		p[j] = out[KE + j] / 1.5;
	for (size_t j = 0; j < KI; j++) {
		double lhs = 3.0 * p[j], rhs = 0;
		for (size_t i = 0; i < N; i++) {
			const double *q = items + i * DIM + KE;
			double qp = 0;
			for (size_t k = 0; k < KI; k++)
				qp += q[k] * p[k];
			lhs += q[j] * qp;
		}
		for (size_t r = 0; r < nr; r++) {
			const double *q = items + rows[r] * DIM + KE;
			double qp = 0;
			for (size_t k = 0; k < KI; k++)
				qp += q[k] * p[k];
			lhs += 7.0 * q[j] * qp;
			rhs += 8.0 * q[j];
		}
		CHECK_NEAR(lhs, rhs, 1e-9);
	}
	/* MF: foldin_solve on the last M columns */
	double mf[N * M], want[M];
	for (size_t i = 0; i < N; i++)
		memcpy(mf + i * M, items + i * DIM + KE + KI, M * sizeof(double));
	CHECK(foldin_solve(mf, N, M, rows, nr, &fp, want, &err) == 0);
	for (size_t j = 0; j < M; j++)
		CHECK_NEAR(out[KE + KI + j], want[j], 1e-12);
	CHECK_NEAR(out[DIM - 1], 1.0, 0);
	blendfold_free(&b);
}

TEST(malformed_blends_are_refused)
{
	lf_error err = {0};
	struct blendfold b;
	const char *bad[] = {
		"{\"blend\": {\"k_e\": 3, \"k_i\": 4, \"m\": 3, \"a_e\": 1, \"a_i\": 1, "
		"\"ials_alpha\": 1, \"ials_reg\": 1}}", /* EASE block, no ease_table */
		"{\"blend\": {\"k_e\": 0, \"k_i\": 4, \"m\": 4, \"a_e\": 1, \"a_i\": 1, "
		"\"ials_alpha\": 1, \"ials_reg\": 1}}", /* blocks are not the dimension */
		"{\"blend\": {\"k_e\": 0.5, \"k_i\": 4, \"m\": 5.5, \"a_e\": 1, \"a_i\": 1, "
		"\"ials_alpha\": 1, \"ials_reg\": 1}}", /* not integers */
		"{\"blend\": {\"k_e\": 0, \"k_i\": 10, \"m\": 0, \"a_e\": 1, \"a_i\": 1, "
		"\"ials_alpha\": -1, \"ials_reg\": 1}}", /* negative confidence */
		"{\"blend\": [1, 2]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_error_t je;
		json_t *f = json_loads(bad[i], 0, &je);
		CHECK(f != NULL);
		CHECK(blendfold_parse(&b, f, DIM, &err) == -1);
		CHECK(err.code == EX_DATAERR);
		blendfold_free(&b);
		json_decref(f);
	}
	json_t *none = json_pack("{s:f}", "user_l2", 1.0); /* softmax-MF alone: no blend */
	CHECK(blendfold_parse(&b, none, DIM, &err) == 0 && !b.present);
	json_decref(none);
}

int main(void)
{
	log_set_prog("test_serve_blendfold");
	RUN(each_block_is_what_the_model_defines);
	RUN(malformed_blends_are_refused);
	return tap_done();
}
