/*
 * ratings-synth — a seeded synthetic ratings TSV (u.data's format, whole
 * stars) for the growth bench when test/tools/ml-synth is not built:
 *
 *   ratings-synth --users N --movies N --ratings N [--seed S] > u.data
 *
 * 40 taste groups; each movie in one, with Zipf-like popularity (weight
 * (rank+1)^-0.9) within it; each user draws a preference over the groups
 * (log-normal, sd 2), an activity of 20 + a log-normal (sd 1.2) share of
 * the rest (at most a third of the movies), then movies by group and popularity without
 * repeats; stars from a user bias, a movie bias, the user's liking of the
 * group and noise. Streams user by user; memory O(movies). A bench helper,
 * not a tool.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "util.h"

#define GROUPS 40

static int arg(const char *s, int64_t lo, int64_t hi, int64_t *v)
{
	if (parse_i64(s, lo, hi, v) < 0) {
		fprintf(stderr, "ratings-synth: bad number '%s'\n", s);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int64_t nu = 943, ni = 1682, nr = 100000, seed = 1;
	static const struct option lo[] = {{"users", 1, NULL, 'u'},
					   {"movies", 1, NULL, 'm'},
					   {"ratings", 1, NULL, 'r'},
					   {"seed", 1, NULL, 's'},
					   {NULL, 0, NULL, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		int64_t *v = o == 'u' ? &nu : o == 'm' ? &ni : o == 'r' ? &nr : o == 's' ? &seed : NULL;
		if (!v || arg(optarg, o == 's' ? 0 : 1, o == 's' ? INT64_MAX : 1000000000, v) < 0)
			return 64;
	}
	rng g;
	rng_seed(&g, (uint64_t)seed);
	size_t n_items = (size_t)ni;
	int *grp = calloc(n_items, sizeof *grp);
	size_t *order = calloc(n_items, sizeof *order), off[GROUPS + 1] = {0}, fill[GROUPS] = {0};
	double *cdf = calloc(n_items, sizeof *cdf), *qual = calloc(n_items, sizeof *qual);
	double *act = calloc((size_t)nu, sizeof *act);
	unsigned char *seen = calloc(n_items, 1);
	size_t *mine = calloc(n_items, sizeof *mine);
	if (!grp || !order || !cdf || !qual || !act || !seen || !mine) {
		fprintf(stderr, "ratings-synth: out of memory\n");
		return 70;
	}
	for (size_t i = 0; i < n_items; i++) {
		grp[i] = (int)rng_below(&g, GROUPS);
		off[grp[i] + 1]++;
		qual[i] = 0.5 * rng_normal(&g);
	}
	for (int k = 0; k < GROUPS; k++)
		off[k + 1] += off[k];
	for (size_t i = 0; i < n_items; i++) /* movie i is the fill-th of its group */
		order[off[grp[i]] + fill[grp[i]]++] = i;
	for (int k = 0; k < GROUPS; k++) {
		double a = 0;
		for (size_t j = off[k]; j < off[k + 1]; j++)
			cdf[j] = a += pow((double)(order[j] + 1), -0.9);
		for (size_t j = off[k]; j < off[k + 1]; j++)
			cdf[j] /= a;
	}
	double tot = 0;
	for (int64_t u = 0; u < nu; u++)
		tot += act[u] = exp(1.2 * rng_normal(&g));
	double extra = (double)nr - 20.0 * (double)nu;
	for (int64_t u = 0; u < nu; u++) {
		size_t n = 20 + (size_t)(extra > 0 ? extra * act[u] / tot : 0);
		if (n > n_items / 3)
			n = n_items / 3;
		double pk[GROUPS], ck[GROUPS], a = 0, b = 0;
		for (int k = 0; k < GROUPS; k++)
			a += pk[k] = exp(2.0 * rng_normal(&g));
		for (int k = 0; k < GROUPS; k++)
			ck[k] = b += pk[k] / a;
		double ub = 0.5 * rng_normal(&g);
		size_t m = 0;
		for (size_t tries = 0; m < n && tries < 200 * n; tries++) {
			double r = rng_uniform(&g);
			int k = 0;
			while (k < GROUPS - 1 && ck[k] < r)
				k++;
			if (off[k + 1] == off[k])
				continue;
			double r2 = rng_uniform(&g);
			size_t lo2 = off[k], hi = off[k + 1] - 1;
			while (lo2 < hi) {
				size_t mid = lo2 + (hi - lo2) / 2;
				if (cdf[mid] < r2)
					lo2 = mid + 1;
				else
					hi = mid;
			}
			size_t i = order[lo2];
			if (seen[i])
				continue;
			seen[i] = 1;
			mine[m++] = i;
			double x = 3.4 + ub + qual[i] + 0.3 * log(pk[k] / a * GROUPS) +
				   0.6 * rng_normal(&g);
			int stars = (int)lround(x);
			stars = stars < 1 ? 1 : stars > 5 ? 5 : stars;
			long ts = 1000000000L + (long)(rng_uniform(&g) * 3e8);
			if (printf("%lld\t%zu\t%d\t%ld\n", (long long)u + 1, i + 1, stars, ts) < 0)
				return 74;
		}
		for (size_t j = 0; j < m; j++)
			seen[mine[j]] = 0;
	}
	free(grp), free(order), free(cdf), free(qual), free(act), free(seen), free(mine);
	return fflush(stdout) == 0 ? 0 : 74;
}
