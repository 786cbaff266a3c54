/*
 * split.c — see split.h. Rows are addressed by their input index (uint32),
 * so sorting and shuffling move 4-byte indices, never the rows, and the
 * outputs can keep the input order by walking is_test once.
 */
#include "split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "util.h"

int split_protocol_parse(const char *s, split_protocol *p)
{
	if (strcmp(s, "stratified") == 0)
		*p = SPLIT_STRATIFIED;
	else if (strcmp(s, "temporal") == 0)
		*p = SPLIT_TEMPORAL;
	else if (strcmp(s, "random") == 0)
		*p = SPLIT_RANDOM;
	else
		return -1;
	return 0;
}

/* round(ratio * n), half to even (the default rounding mode). */
static size_t train_count(double ratio, size_t n) { return (size_t)rint(ratio * (double)n); }

/* By user, then input position: each user's rows in input order. */
static int by_user(const void *a, const void *b, void *rows)
{
	const rating_row *row = rows;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	int32_t u = row[i].user, v = row[j].user;
	if (u != v)
		return u < v ? -1 : 1;
	return (i > j) - (i < j);
}

/* Within one user: by timestamp, then movie id (unique within a user). */
static int by_time(const void *a, const void *b, void *rows)
{
	const rating_row *row = rows;
	const rating_row *x = &row[*(const uint32_t *)a], *y = &row[*(const uint32_t *)b];
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return (x->item > y->item) - (x->item < y->item);
}

/*
 * idx[0..n) ordered by user, then input position (by_user's order). User ids
 * are dense in every MovieLens release, so this is a counting sort: one pass
 * to count each user's rows, one to place the indices, both streaming over
 * the rows (a comparison sort of 25M indices reads the rows at random: it
 * grew as n^1.2 past 10M ratings). Ids spread over more than 4n + 2^16 values
 * fall back to qsort_r. -1: out of memory.
 */
static int group_by_user(const ratings *r, uint32_t *idx)
{
	size_t n = r->n;
	int32_t lo = INT32_MAX, hi = 0;
	for (size_t i = 0; i < n; i++) {
		lo = r->rows[i].user < lo ? r->rows[i].user : lo;
		hi = r->rows[i].user > hi ? r->rows[i].user : hi;
	}
	size_t span = n ? (size_t)hi - (size_t)lo + 1 : 0;
	if (span > 4 * n + 65536) {
		for (size_t i = 0; i < n; i++)
			idx[i] = (uint32_t)i;
		qsort_r(idx, n, sizeof *idx, by_user, r->rows);
		return 0;
	}
	size_t *next = lf_calloc(span + 1, sizeof *next);
	if (!next)
		return -1;
	for (size_t i = 0; i < n; i++)
		next[(size_t)(r->rows[i].user - lo) + 1]++;
	for (size_t u = 1; u <= span; u++)
		next[u] += next[u - 1]; /* next[u]: where user lo + u's rows start */
	for (size_t i = 0; i < n; i++)
		idx[next[(size_t)(r->rows[i].user - lo)]++] = (uint32_t)i;
	free(next);
	return 0;
}

int split_assign(const ratings *r, split_protocol p, double ratio, uint64_t seed,
		 unsigned char *is_test, lf_error *err)
{
	if (!(ratio > 0.0 && ratio < 1.0))
		return lf_fail(err, EX_USAGE, "ratio %g is not strictly between 0 and 1", ratio);
	if (r->n > UINT32_MAX)
		return lf_fail(err, EX_DATAERR, "%zu ratings: more than this tool indexes", r->n);
	size_t n = r->n;
	uint32_t *idx = lf_calloc(n ? n : 1, sizeof *idx);
	if (!idx)
		return lf_fail(err, EX_OSERR, "out of memory");
	rng g;
	rng_seed(&g, seed);

	if (p == SPLIT_RANDOM) {
		for (size_t i = 0; i < n; i++)
			idx[i] = (uint32_t)i;
		rng_shuffle(&g, idx, n, sizeof *idx);
		size_t k = train_count(ratio, n);
		for (size_t i = 0; i < n; i++)
			is_test[idx[i]] = i >= k;
		free(idx);
		return 0;
	}

	if (group_by_user(r, idx) < 0) {
		free(idx);
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	for (size_t start = 0; start < n;) {
		size_t end = start + 1;
		while (end < n && r->rows[idx[end]].user == r->rows[idx[start]].user)
			end++;
		size_t cnt = end - start, k = train_count(ratio, cnt);
		if (p == SPLIT_STRATIFIED)
			rng_shuffle(&g, idx + start, cnt, sizeof *idx);
		else /* qsort_r (glibc): the comparator needs the rows */
			qsort_r(idx + start, cnt, sizeof *idx, by_time, r->rows);
		for (size_t i = 0; i < cnt; i++)
			is_test[idx[start + i]] = i >= k;
		start = end;
	}
	free(idx);
	return 0;
}
