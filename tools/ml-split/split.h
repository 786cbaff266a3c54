/*
 * split.h — ml-split's protocols: which rows of a ratings set go to test.
 *
 *   stratified  per user (users in ascending id order, ONE rng stream seeded
 *               with seed): the user's rows in input order are shuffled, the
 *               first round(ratio·n) go to train, the rest to test — the
 *               protocol of Microsoft recommenders' python_stratified_split
 *               ("ms-stratified-75-25-seed42" with the defaults)
 *   temporal    per user, rows ordered by (timestamp, movie id): the latest
 *               n − round(ratio·n) go to test
 *   random      all rows shuffled once: the first round(ratio·n) go to train
 *
 * round() is half-to-even (rint), as Python's round() that the reference
 * implementation uses, so a user with 22 ratings keeps 16 in train at 0.75.
 *
 * Ownership: split_assign writes into the caller's is_test array (n bytes).
 */
#ifndef ML_SPLIT_H
#define ML_SPLIT_H

#include <stdint.h>

#include "log.h"
#include "tsv.h"

typedef enum split_protocol {
	SPLIT_STRATIFIED,
	SPLIT_TEMPORAL,
	SPLIT_RANDOM,
} split_protocol;

/* "stratified", "temporal", "random" → 0 and *p, else -1. */
int split_protocol_parse(const char *s, split_protocol *p);

/* Sets is_test[i] to 1 for the rows of r that go to test, 0 for train.
 * ratio must be strictly between 0 and 1. */
int split_assign(const ratings *r, split_protocol p, double ratio, uint64_t seed,
		 unsigned char *is_test, lf_error *err);

#endif
