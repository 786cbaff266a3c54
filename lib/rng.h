/*
 * rng.h — a small seeded random number generator (xoshiro256**, seeded by
 * splitmix64), so that every tool gives the same output for the same seed on
 * every machine. Not for cryptography.
 *
 * Ownership: rng is a plain value; nothing to free.
 */
#ifndef LENSFLOW_RNG_H
#define LENSFLOW_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct rng {
	uint64_t s[4];
} rng;

void rng_seed(rng *r, uint64_t seed);
uint64_t rng_next(rng *r);
/* Uniform integer in [0, n), without modulo bias; n must be > 0. */
uint64_t rng_below(rng *r, uint64_t n);
/* Uniform double in [0, 1) with 53 random bits. */
double rng_uniform(rng *r);
/* Standard normal deviate (Box–Muller; no cached second value, so the
 * sequence depends only on the number of calls). */
double rng_normal(rng *r);
/* Fisher–Yates shuffle of n elements of the given size, in place. */
void rng_shuffle(rng *r, void *base, size_t n, size_t size);

#endif
