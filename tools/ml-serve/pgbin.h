/*
 * pgbin.h — fields of a binary-format PGresult (PQexecParams resultFormat 1):
 * int4 (big-endian) and pgvector's binary vector (int16 dim, int16 unused,
 * float4[dim], all big-endian). Nothing is allocated.
 */
#ifndef ML_SERVE_PGBIN_H
#define ML_SERVE_PGBIN_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* The big-endian int32 at p. */
int32_t pgbin_be32(const char *p);

/* Field (row, col) as an int4 into *out; -1 when NULL or not 4 bytes. */
int pgbin_int4(const PGresult *r, int row, int col, int32_t *out);

/* Field (row, col) as a vector of exactly dim values, into f (floats) or,
 * when f is NULL, d (doubles); -1 when NULL or of another dimension. */
int pgbin_vector(const PGresult *r, int row, int col, size_t dim, float *f, double *d);

#endif
