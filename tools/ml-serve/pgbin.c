/*
 * pgbin.c — see pgbin.h.
 */
#include "pgbin.h"

#include <string.h>

/* Column types of the binary fields read here (pg_type OIDs). */
enum { OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_FLOAT4 = 700, OID_FLOAT8 = 701 };

/* The big-endian unsigned integer of len bytes at p. */
static uint64_t be_bits(const char *p, int len)
{
	const unsigned char *u = (const unsigned char *)p;
	uint64_t v = 0;
	for (int j = 0; j < len; j++)
		v = v << 8 | u[j];
	return v;
}

static float be_float(const char *p)
{
	uint32_t bits = (uint32_t)be_bits(p, 4);
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

int pgbin_int4(const PGresult *r, int row, int col, int32_t *out)
{
	if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 4)
		return -1;
	*out = (int32_t)(uint32_t)be_bits(PQgetvalue(r, row, col), 4);
	return 0;
}

int pgbin_integer(const PGresult *r, int row, int col, int64_t *out)
{
	if (PQgetisnull(r, row, col))
		return -1;
	const char *p = PQgetvalue(r, row, col);
	int len = PQgetlength(r, row, col);
	Oid t = PQftype(r, col);
	if (t == OID_INT4 && len == 4)
		*out = (int32_t)(uint32_t)be_bits(p, 4);
	else if (t == OID_INT8 && len == 8)
		*out = (int64_t)be_bits(p, 8);
	else if (t == OID_INT2 && len == 2)
		*out = (int16_t)(uint16_t)be_bits(p, 2);
	else
		return -1;
	return 0;
}

int pgbin_real(const PGresult *r, int row, int col, double *out)
{
	if (PQgetisnull(r, row, col))
		return -1;
	const char *p = PQgetvalue(r, row, col);
	int len = PQgetlength(r, row, col);
	Oid t = PQftype(r, col);
	if (t == OID_FLOAT8 && len == 8) {
		uint64_t bits = be_bits(p, 8);
		memcpy(out, &bits, 8);
	} else if (t == OID_FLOAT4 && len == 4) {
		*out = be_float(p);
	} else {
		return -1;
	}
	return 0;
}

int pgbin_vector(const PGresult *r, int row, int col, size_t dim, float *f, double *d)
{
	const char *v = PQgetvalue(r, row, col);
	if (PQgetisnull(r, row, col) || (size_t)PQgetlength(r, row, col) != 4 + 4 * dim ||
	    (size_t)be_bits(v, 2) != dim)
		return -1;
	for (size_t j = 0; j < dim; j++) {
		float x = be_float(v + 4 + 4 * j);
		if (f)
			f[j] = x;
		else
			d[j] = x;
	}
	return 0;
}
