/*
 * fuzz_lfe_parse.c — libFuzzer target for the .lfe reader (lib/lfe.c,
 * lfe_parse). An accepted file must respect what lfe.h promises (table
 * count, dims, unique ids, finite values, lookups that agree), serialise
 * to exactly the bytes read (the format has one encoding), and those bytes
 * must parse to the same tables.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_check.h"
#include "lfe.h"

static void same_tables(const lfe *a, const lfe *b)
{
	FUZZ_CHECK(a->n_tables == b->n_tables);
	for (uint32_t t = 0; t < a->n_tables; t++) {
		const lfe_table *x = &a->tables[t], *y = &b->tables[t];
		FUZZ_CHECK(strcmp(x->name, y->name) == 0);
		FUZZ_CHECK(x->rows == y->rows && x->dim == y->dim);
		FUZZ_CHECK(x->rows == 0 || memcmp(x->ids, y->ids, x->rows * sizeof *x->ids) == 0);
		size_t nv = (size_t)x->rows * x->dim;
		FUZZ_CHECK(nv == 0 || memcmp(x->values, y->values, nv * sizeof *x->values) == 0);
	}
}

/* Returns 1 when data parsed (and every property held), 0 when refused. */
static int one(const uint8_t *data, size_t size)
{
	lfe m = {0};
	lf_error err = {0};
	if (lfe_parse(data, size, "fuzz.lfe", &m, &err) < 0) {
		FUZZ_CHECK(err.code != 0 && err.msg[0] != '\0');
		lfe_free(&m);
		return 0;
	}
	FUZZ_CHECK(m.n_tables <= LFE_MAX_TABLES);
	for (uint32_t t = 0; t < m.n_tables; t++) {
		const lfe_table *tb = &m.tables[t];
		FUZZ_CHECK(strlen(tb->name) <= LFE_NAME_LEN);
		FUZZ_CHECK(lfe_find(&m, tb->name) == tb);
		for (uint32_t r = 0; r < tb->rows; r++)
			FUZZ_CHECK(lfe_row_of(tb, tb->ids[r]) == (long)r);
		for (size_t i = 0; i < (size_t)tb->rows * tb->dim; i++)
			FUZZ_CHECK(isfinite(tb->values[i]));
	}
	unsigned char *out = NULL;
	size_t len = 0;
	if (lfe_serialize(&m, &out, &len, &err) < 0)
		fuzz_fail("an accepted .lfe cannot be serialised", err.msg);
	FUZZ_CHECK(len == size && memcmp(out, data, size) == 0);
	lfe again = {0};
	if (lfe_parse(out, len, "fuzz-out.lfe", &again, &err) < 0)
		fuzz_fail("a serialised .lfe does not parse again", err.msg);
	same_tables(&m, &again);
	lfe_free(&again);
	lfe_free(&m);
	free(out);
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (one(data, size) || size < 8 + 4 + 4)
		return 0;
	/* A random mutation almost never keeps the CRC right, which would stop
	 * the fuzzer at the checksum: try the same bytes with the CRC fixed, so
	 * that the table checks behind it are explored as well. */
	uint8_t *copy = malloc(size);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, data, size);
	uLong crc = crc32(0L, copy, (uInt)(size - 4));
	for (int i = 0; i < 4; i++)
		copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
	one(copy, size);
	free(copy);
	return 0;
}
