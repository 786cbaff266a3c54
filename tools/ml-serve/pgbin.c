/*
 * pgbin.c — see pgbin.h.
 */
#include "pgbin.h"

#include <arpa/inet.h>
#include <string.h>

int32_t pgbin_be32(const char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return (int32_t)ntohl(v);
}

int pgbin_int4(const PGresult *r, int row, int col, int32_t *out)
{
	if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 4)
		return -1;
	*out = pgbin_be32(PQgetvalue(r, row, col));
	return 0;
}

int pgbin_vector(const PGresult *r, int row, int col, size_t dim, float *f, double *d)
{
	const char *v = PQgetvalue(r, row, col);
	uint16_t vdim = 0;
	if (PQgetisnull(r, row, col) || (size_t)PQgetlength(r, row, col) != 4 + 4 * dim)
		return -1;
	memcpy(&vdim, v, 2);
	if ((size_t)ntohs(vdim) != dim)
		return -1;
	for (size_t j = 0; j < dim; j++) {
		uint32_t bits = (uint32_t)pgbin_be32(v + 4 + 4 * j);
		float x;
		memcpy(&x, &bits, 4);
		if (f)
			f[j] = x;
		else
			d[j] = x;
	}
	return 0;
}
