/*
 * test_model_blend.c — lib/model's blend: the block-by-block fold-in (the
 * EASE block is the sum of the rated movies' fold-in rows, the iALS block
 * solves iALS's normal equations, checked here by their residual computed
 * independently, the MF block is model_foldin_solve on the MF columns),
 * malformed blend parameters refused, and the parameters' trip through the
 * .lfe and embedding_sets.foldin's JSON leaving every float as it was.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lfe.h"
#include "log.h"
#include "model.h"
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

static void make(struct model_fold *b, double *items, float *ease, lf_error *err)
{
	json_t *f = json_pack("{s:{s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f}, s:s}", "blend",
			      "k_e", KE, "k_i", KI, "m", M, "a_e", 2.0, "a_i", 1.5, "w_e", 0.2,
			      "w_i", 0.5, "ials_alpha", 7.0, "ials_reg", 3.0, "ease_table", "t");
	int rc = model_fold_parse(b, f, DIM, err);
	json_decref(f);
	CHECK(rc == 0);
	CHECK(b->has_blend && b->blend.k_e == KE && b->blend.k_i == KI && b->blend.m == M);
	b->foldin = (struct model_foldin){.user_l2 = 1.0, .weight_alpha = 0.4, .weight_norm = 1.0,
					  .bias_last = 1};
	b->ease = malloc(sizeof(float) * N * KE);
	CHECK(b->ease != NULL);
	memcpy(b->ease, ease, sizeof(float) * N * KE);
	CHECK(model_fold_derive(b, items, N, DIM, err) == 0);
}

TEST(each_block_is_what_the_model_defines)
{
	static double items[N * DIM];
	static float ease[N * KE];
	random_items(items, ease, 5);
	lf_error err = {0};
	struct model_fold b = {0};
	make(&b, items, ease, &err);
	CHECK(b.mf != NULL);
	size_t rows[] = {0, 7, 19, 33};
	size_t nr = sizeof rows / sizeof *rows;
	double out[DIM];
	CHECK(model_fold_solve(&b, items, N, DIM, rows, nr, out, &err) == 0);

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
	/* MF: model_foldin_solve on the last M columns */
	double mf[N * M], want[M];
	for (size_t i = 0; i < N; i++)
		memcpy(mf + i * M, items + i * DIM + KE + KI, M * sizeof(double));
	CHECK(model_foldin_solve(mf, N, M, rows, nr, &b.foldin, want, &err) == 0);
	for (size_t j = 0; j < M; j++)
		CHECK_NEAR(out[KE + KI + j], want[j], 1e-12);
	CHECK_NEAR(out[DIM - 1], 1.0, 0);
	model_fold_free(&b);
}

TEST(malformed_blends_are_refused)
{
	lf_error err = {0};
	struct model_fold b;
	const char *bad[] = {
		"{\"blend\": {\"k_e\": 3, \"k_i\": 4, \"m\": 3, \"a_e\": 1, \"a_i\": 1, "
		"\"w_e\": 1, \"w_i\": 1, \"ials_alpha\": 1, \"ials_reg\": 1}}", /* no ease_table */
		"{\"blend\": {\"k_e\": 0, \"k_i\": 4, \"m\": 4, \"a_e\": 1, \"a_i\": 1, "
		"\"w_e\": 1, \"w_i\": 1, \"ials_alpha\": 1, \"ials_reg\": 1}}", /* not the dim */
		"{\"blend\": {\"k_e\": 0.5, \"k_i\": 4, \"m\": 5.5, \"a_e\": 1, \"a_i\": 1, "
		"\"w_e\": 1, \"w_i\": 1, \"ials_alpha\": 1, \"ials_reg\": 1}}", /* not integers */
		"{\"blend\": {\"k_e\": 0, \"k_i\": 10, \"m\": 0, \"a_e\": 1, \"a_i\": 1, "
		"\"w_e\": 1, \"w_i\": 1, \"ials_alpha\": -1, \"ials_reg\": 1}}", /* alpha < 0 */
		"{\"blend\": {\"k_e\": 0, \"k_i\": 10, \"m\": 0, \"a_e\": 1, \"a_i\": 1, "
		"\"ials_alpha\": 1, \"ials_reg\": 1}}", /* the weights missing */
		"{\"blend\": [1, 2]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_error_t je;
		json_t *f = json_loads(bad[i], 0, &je);
		CHECK(f != NULL);
		CHECK(model_fold_parse(&b, f, DIM, &err) == -1);
		CHECK(err.code == EX_DATAERR);
		model_fold_free(&b);
		json_decref(f);
	}
	json_t *none = json_pack("{s:f}", "user_l2", 1.0); /* softmax-MF alone: no blend */
	CHECK(model_fold_parse(&b, none, DIM, &err) == 0 && !b.has_blend);
	CHECK(b.foldin.user_l2 == 1.0 && b.foldin.weight_norm == 1.0 && !b.foldin.bias_last);
	json_decref(none);
}

/* ml-train's table -> model_view -> ml-pgload's JSON -> ml-serve's parse:
 * every parameter arrives as the float the .lfe holds. */
TEST(parameters_survive_the_lfe_and_the_json)
{
	lf_error err = {0};
	lfe m = {0};
	lfe_table *t;
	const int32_t ids[3] = {4, 8, 15};
	CHECK(lfe_add_table(&m, MODEL_T_USERS, 1, DIM, &t, &err) == 0);
	CHECK(lfe_add_table(&m, MODEL_T_ITEMS, 3, DIM, &t, &err) == 0);
	memcpy(t->ids, ids, sizeof ids);
	CHECK(lfe_add_table(&m, MODEL_T_EASE_FOLDIN, 3, KE, &t, &err) == 0);
	memcpy(t->ids, ids, sizeof ids);
	struct model_blend in = {.k_e = KE, .k_i = KI, .m = M, .a_e = 0.1234567891, .a_i = 3e-7,
				 .w_e = 0.3, .w_i = 1.0 / 3, .ials_alpha = 17.25, .ials_reg = 2e5};
	struct model_foldin fin = {.user_l2 = 0.05, .weight_alpha = 0.7, .weight_norm = 0.0123,
				   .bias_last = 1};
	CHECK(model_put_blend(&m, &in, &err) == 0 && model_put_foldin(&m, &fin, &err) == 0);
	struct model_set s;
	CHECK(model_view(&m, "t.lfe", &s, &err) == 0);
	CHECK(s.has_blend && s.has_foldin && s.ease && s.dim == DIM && s.ddim == DIM - 1);
	CHECK(s.blend.k_e == KE && s.blend.k_i == KI && s.blend.m == M);
	CHECK(s.blend.a_e == (float)in.a_e && s.blend.w_i == (float)in.w_i);
	char *text = model_params_dumps(&s.foldin, &s.blend, "lf_x_v1_foldin");
	CHECK(text != NULL);
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	CHECK(j != NULL);
	struct model_fold f;
	CHECK(model_fold_parse(&f, j, DIM, &err) == 0);
	CHECK(f.has_blend && strcmp(f.ease_table, "lf_x_v1_foldin") == 0);
	const double got[] = {f.blend.a_e, f.blend.a_i, f.blend.w_e, f.blend.w_i,
			      f.blend.ials_alpha, f.blend.ials_reg, f.foldin.user_l2,
			      f.foldin.weight_alpha, f.foldin.weight_norm};
	const double want[] = {in.a_e, in.a_i, in.w_e, in.w_i, in.ials_alpha, in.ials_reg,
			       fin.user_l2, fin.weight_alpha, fin.weight_norm};
	for (size_t i = 0; i < sizeof got / sizeof *got; i++)
		CHECK((float)got[i] == (float)want[i]);
	CHECK(f.blend.k_e == KE && f.blend.k_i == KI && f.blend.m == M && f.foldin.bias_last);
	/* block sizes are JSON integers, as the database's readers expect */
	CHECK(json_is_integer(json_object_get(json_object_get(j, "blend"), "k_e")));
	model_fold_free(&f);
	json_decref(j);
	free(text);
	/* a blend whose blocks do not tile the ranking vectors is refused */
	lfe_free(&m);
	memset(&m, 0, sizeof m);
	CHECK(lfe_add_table(&m, MODEL_T_USERS, 1, DIM + 1, &t, &err) == 0);
	CHECK(lfe_add_table(&m, MODEL_T_ITEMS, 1, DIM + 1, &t, &err) == 0);
	CHECK(model_put_blend(&m, &in, &err) == 0);
	CHECK(model_view(&m, "t.lfe", &s, &err) == -1 && err.code == EX_DATAERR);
	lfe_free(&m);
}

int main(void)
{
	log_set_prog("test_model_blend");
	RUN(each_block_is_what_the_model_defines);
	RUN(malformed_blends_are_refused);
	RUN(parameters_survive_the_lfe_and_the_json);
	return tap_done();
}
