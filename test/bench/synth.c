/*
 * synth — a synthetic catalogue for the bench's scale runs, as a .lfe shaped
 * like ml-train's: users [p_u, 1], items [q_i, b_i] (score = dot = p·q + b).
 *
 *   synth --users 200000 --items 60000 [--dim 64] [--clusters 256] [--seed 7] > x.lfe
 *
 * Not pure noise (HNSW graphs of uniform random vectors are slow to build and
 * unlike real embeddings): a PCA-like spectrum (latent coordinate j has
 * standard deviation (j+1)^-1/2) and clusters (each vector is one of
 * --clusters centres plus noise of half the spread), item biases from a
 * normal of sd 0.5 (popularity), and a foldin table like ml-train's.
 * A bench helper, not a tool.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "lfe.h"
#include "rng.h"
#include "util.h"

static int fill(lfe *m, const char *name, uint32_t rows, uint32_t dim, const float *centres,
		uint32_t nc, const float *sd, int is_user, rng *r, lf_error *err)
{
	lfe_table *t;
	if (lfe_add_table(m, name, rows, dim, &t, err) < 0)
		return -1;
	uint32_t lat = dim - 1;
	for (uint32_t i = 0; i < rows; i++) {
		t->ids[i] = (int32_t)i + 1;
		const float *c = centres + (size_t)rng_below(r, nc) * lat;
		float *v = t->values + (size_t)i * dim;
		for (uint32_t j = 0; j < lat; j++)
			v[j] = c[j] + (float)(0.5 * sd[j] * rng_normal(r));
		v[lat] = is_user ? 1.0f : (float)(0.5 * rng_normal(r));
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"users", required_argument, NULL, 'u'},    {"items", required_argument, NULL, 'i'},
		{"dim", required_argument, NULL, 'd'},	    {"clusters", required_argument, NULL, 'c'},
		{"seed", required_argument, NULL, 's'},	    {NULL, 0, NULL, 0}};
	int64_t users = 200000, items = 60000, dim = 64, nc = 256, seed = 7;
	int o;
	log_set_prog("synth");
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		int64_t *dst = o == 'u' ? &users : o == 'i' ? &items : o == 'd' ? &dim
			     : o == 'c' ? &nc : &seed;
		if (o == '?' || parse_i64(optarg, 1, INT32_MAX, dst) < 0 || dim < 2 ||
		    dim > LFE_MAX_DIM) {
			log_error("usage: synth --users N --items N [--dim D] [--clusters C] [--seed S]");
			return EX_USAGE;
		}
	}
	uint32_t lat = (uint32_t)dim - 1;
	float *sd = malloc(lat * sizeof *sd), *centres = malloc((size_t)nc * lat * sizeof *centres);
	lf_error err = {0};
	lfe m = {0};
	rng r;
	if (!sd || !centres) {
		log_error("out of memory");
		return EX_SOFTWARE;
	}
	rng_seed(&r, (uint64_t)seed);
	for (uint32_t j = 0; j < lat; j++)
		sd[j] = (float)(1.0 / sqrt(j + 1.0));
	for (size_t c = 0; c < (size_t)nc; c++)
		for (uint32_t j = 0; j < lat; j++)
			centres[c * lat + j] = (float)(sd[j] * rng_normal(&r));
	lfe_table *f;
	if (fill(&m, "users", (uint32_t)users, (uint32_t)dim, centres, (uint32_t)nc, sd, 1, &r,
		 &err) < 0 ||
	    fill(&m, "items", (uint32_t)items, (uint32_t)dim, centres, (uint32_t)nc, sd, 0, &r,
		 &err) < 0 ||
	    lfe_add_table(&m, "foldin", 1, 4, &f, &err) < 0)
		goto fail;
	f->ids[0] = 0;
	f->values[0] = 1.0f; /* user_l2 */
	f->values[1] = 0.4f; /* weight_alpha */
	f->values[2] = 1.0f; /* weight_norm */
	f->values[3] = 1.0f; /* bias_last */
	if (lfe_write(stdout, "stdout", &m, &err) < 0 || close_stream(stdout, "stdout", &err) < 0)
		goto fail;
	lfe_free(&m);
	free(sd);
	free(centres);
	return 0;
fail:
	log_error("%s", err.msg);
	lfe_free(&m);
	free(sd);
	free(centres);
	return err.code ? err.code : 1;
}
