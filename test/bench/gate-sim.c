/*
 * gate-sim — the online gate (lib/online_gate.h) on simulated experiments:
 * each trial draws, per arm, n answers that are hits with probability p0
 * (champion) and p1 (challenger), and asks the gate once, as make promote
 * does. With p1 == p0 (A/A: the same model in both arms) the share of passes
 * is the false-positive rate; with p1 > p0 (A/B: a known lift) it is the power.
 *
 *   gate-sim [--trials 2000] [--n 1000] [--p0 0.2] [--lift 0.15] [--alpha 0.05] [--seed 1]
 *
 * Prints TSV rows: kind (aa|ab), trials, n, p0, p1, alpha, passes, rate, and
 * the rate's binomial standard error.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "online_gate.h"
#include "rng.h"
#include "util.h"

static int64_t hits(rng *r, int64_t n, double p)
{
	int64_t x = 0;
	for (int64_t i = 0; i < n; i++)
		x += rng_uniform(r) < p;
	return x;
}

static void run(const char *kind, int64_t trials, int64_t n, double p0, double p1, double alpha,
		uint64_t seed)
{
	int64_t passes = 0;
	for (int64_t t = 0; t < trials; t++) {
		rng r;
		rng_seed(&r, seed * 1000003u + (uint64_t)t);
		int64_t x0 = hits(&r, n, p0), x1 = hits(&r, n, p1);
		double z;
		passes += gate_online(x1, n, x0, n, n, alpha, &z) == GATE_PASS;
	}
	double rate = (double)passes / (double)trials;
	printf("%s\t%lld\t%lld\t%g\t%g\t%g\t%lld\t%.4f\t%.4f\n", kind, (long long)trials,
	       (long long)n, p0, p1, alpha, (long long)passes, rate,
	       sqrt(rate * (1 - rate) / (double)trials));
}

int main(int argc, char **argv)
{
	int64_t trials = 2000, n = 1000, seed = 1;
	double p0 = 0.2, lift = 0.15, alpha = 0.05;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];
		int bad = 0;
		if (strcmp(o, "--trials") == 0)
			bad = parse_i64(v, 1, 10000000, &trials);
		else if (strcmp(o, "--n") == 0)
			bad = parse_i64(v, 1, 100000000, &n);
		else if (strcmp(o, "--seed") == 0)
			bad = parse_i64(v, 0, INT32_MAX, &seed);
		else if (strcmp(o, "--p0") == 0)
			bad = parse_double(v, 1e-6, 0.99, &p0);
		else if (strcmp(o, "--lift") == 0)
			bad = parse_double(v, 0, 10, &lift);
		else if (strcmp(o, "--alpha") == 0)
			bad = parse_double(v, 1e-6, 0.49, &alpha);
		else
			bad = -1;
		if (bad < 0) {
			fprintf(stderr, "gate-sim: bad option %s %s\n", o, v);
			return 64;
		}
	}
	if (argc % 2 == 0) {
		fprintf(stderr, "gate-sim: options come in pairs\n");
		return 64;
	}
	double p1 = p0 * (1 + lift);
	if (p1 >= 1) {
		fprintf(stderr, "gate-sim: p0 x (1 + lift) must stay below 1\n");
		return 64;
	}
	printf("kind\ttrials\tn\tp0\tp1\talpha\tpasses\trate\tse\n");
	run("aa", trials, n, p0, p0, alpha, (uint64_t)seed);
	run("ab", trials, n, p0, p1, alpha, (uint64_t)seed + 7);
	return 0;
}
