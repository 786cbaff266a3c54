/*
 * rng.c — xoshiro256** (Blackman & Vigna, 2018), state filled by splitmix64
 * from the 64-bit seed as its authors recommend.
 */
#include "rng.h"

#include <math.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rng_seed(rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

uint64_t rng_next(rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t rng_below(rng *r, uint64_t n)
{
	/* Rejection: draw until the value falls below the largest multiple of n. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = rng_next(r);
	while (x >= limit);
	return x % n;
}

double rng_uniform(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

double rng_normal(rng *r)
{
	double u1 = rng_uniform(r);
	double u2 = rng_uniform(r);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void rng_shuffle(rng *r, void *base, size_t n, size_t size)
{
	unsigned char *b = base;
	unsigned char tmp[64];
	if (n < 2)
		return;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)rng_below(r, (uint64_t)i + 1);
		if (j == i)
			continue;
		/* swap in chunks so any element size works without allocation */
		for (size_t off = 0; off < size; off += sizeof tmp) {
			size_t len = size - off < sizeof tmp ? size - off : sizeof tmp;
			memcpy(tmp, b + i * size + off, len);
			memcpy(b + i * size + off, b + j * size + off, len);
			memcpy(b + j * size + off, tmp, len);
		}
	}
}
