/*
 * lfe-gen — writes a synthetic .lfe for ml-pgload's tests and benchmarks:
 * users 1..U and items 1..I with values uniform in [-1, 1) from a seeded RNG,
 * and optionally a foldin table with bias_last = 1.
 *
 *   lfe-gen --users 943 --items 1682 --dim 81 [--seed 1] [--foldin] > x.lfe
 *
 *   lfe-gen --dump TABLE < x.lfe      one line per row: id TAB [v1,v2,...] with
 *                                     9 significant digits (exact for float32),
 *                                     the text form pgvector reads
 *   --no-items                        leave the items table out (a bad input)
 *
 * A test helper (built with the unit tests: build/release/test/lfe-gen), not a tool.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "lfe.h"
#include "rng.h"
#include "util.h"

static int fill(lfe *m, const char *name, uint32_t rows, uint32_t dim, rng *r, lf_error *err)
{
	lfe_table *t;

	if (lfe_add_table(m, name, rows, dim, &t, err) < 0)
		return -1;
	for (uint32_t i = 0; i < rows; i++)
		t->ids[i] = (int32_t)i + 1;
	for (size_t k = 0; k < (size_t)rows * dim; k++)
		t->values[k] = (float)(rng_uniform(r) * 2.0 - 1.0);
	return 0;
}

static int dump(const char *table)
{
	lf_error err = {0};
	lfe m = {0};

	if (lfe_read(stdin, "stdin", &m, &err) < 0) {
		log_error("%s", err.msg);
		return err.code;
	}
	const lfe_table *t = lfe_find(&m, table);
	if (!t) {
		log_error("no table %s", table);
		lfe_free(&m);
		return EX_DATAERR;
	}
	for (uint32_t r = 0; r < t->rows; r++) {
		printf("%d\t[", t->ids[r]);
		for (uint32_t k = 0; k < t->dim; k++)
			printf("%s%.9g", k ? "," : "", (double)t->values[(size_t)r * t->dim + k]);
		printf("]\n");
	}
	lfe_free(&m);
	return close_stream(stdout, "stdout", &err) < 0 ? EX_IOERR : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"users", required_argument, NULL, 'u'}, {"items", required_argument, NULL, 'i'},
		{"dim", required_argument, NULL, 'd'},	 {"seed", required_argument, NULL, 's'},
		{"foldin", no_argument, NULL, 'f'},	 {"no-items", no_argument, NULL, 'n'},
		{"dump", required_argument, NULL, 'D'},	 {NULL, 0, NULL, 0}};
	int64_t users = 10, items = 20, dim = 8, seed = 1;
	int foldin = 0, no_items = 0, c;
	lf_error err = {0};
	lfe m = {0};
	rng r;

	log_set_prog("lfe-gen");
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int64_t *dst = c == 'u' ? &users : c == 'i' ? &items : c == 'd' ? &dim : &seed;
		if (c == 'f' || c == 'n') {
			*(c == 'f' ? &foldin : &no_items) = 1;
			continue;
		}
		if (c == 'D')
			return dump(optarg);
		if (c == '?' || parse_i64(optarg, 0, INT32_MAX, dst) < 0) {
			fprintf(stderr, "usage: lfe-gen --users N --items N --dim N [--seed N] "
					"[--foldin]\n");
			return EX_USAGE;
		}
	}
	rng_seed(&r, (uint64_t)seed);
	if (fill(&m, "users", (uint32_t)users, (uint32_t)dim, &r, &err) < 0 ||
	    (!no_items && fill(&m, "items", (uint32_t)items, (uint32_t)dim, &r, &err) < 0))
		goto fail;
	if (foldin) {
		lfe_table *t;
		if (lfe_add_table(&m, "foldin", 1, 4, &t, &err) < 0)
			goto fail;
		t->ids[0] = 0;
		t->values[0] = 2.0f;
		t->values[1] = 0.4f;
		t->values[2] = 1.0f;
		t->values[3] = 1.0f;
	}
	if (lfe_write(stdout, "stdout", &m, &err) < 0 || close_stream(stdout, "stdout", &err) < 0)
		goto fail;
	lfe_free(&m);
	return 0;
fail:
	log_error("%s", err.msg);
	lfe_free(&m);
	return err.code ? err.code : 1;
}
