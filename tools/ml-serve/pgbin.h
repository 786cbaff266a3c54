/*
 * pgbin.h — fields of a binary-format PGresult (PQexecParams resultFormat 1):
 * integers (int2/int4/int8), reals (float4/float8), all big-endian, and
 * pgvector's binary vector (int16 dim, int16 unused, float4[dim]). Nothing
 * is allocated.
 */
#ifndef ML_SERVE_PGBIN_H
#define ML_SERVE_PGBIN_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* Field (row, col) as an int4 into *out; -1 when NULL or not 4 bytes. */
int pgbin_int4(const PGresult *r, int row, int col, int32_t *out);

/* Field (row, col) as an integer / a real, by the column's type: -1 when NULL
 * or not of an integer / floating type (or of another length). */
int pgbin_integer(const PGresult *r, int row, int col, int64_t *out);
int pgbin_real(const PGresult *r, int row, int col, double *out);

/* Field (row, col) as a vector of exactly dim values, into f (floats) or,
 * when f is NULL, d (doubles); -1 when NULL or of another dimension. */
int pgbin_vector(const PGresult *r, int row, int col, size_t dim, float *f, double *d);

#endif
