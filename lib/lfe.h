/*
 * lfe.h — the embedding file (DESIGN.md, ".lfe"), little-endian:
 *
 *   char magic[8] = "LFEMB001"
 *   uint32 n_tables
 *   per table: char name[16] (ASCII, NUL-padded), uint32 rows, uint32 dim,
 *              int32 ids[rows], float32 values[rows*dim] (row-major)
 *   uint32 crc32 (zlib's) of every byte before it
 *
 * Which tables a model has and what they mean is lib/model.h's (the table
 * names are its MODEL_T_* constants); this header is only the container.
 * Readers keep every table (unknown names included) and callers look up the
 * ones they know with lfe_find.
 *
 * Readers check: magic, n_tables <= LFE_MAX_TABLES, name ASCII and
 * NUL-padded, no repeated table name, sizes against the file length without
 * overflow, the CRC, unique ids within a table, finite values. Every failure
 * is EX_DATAERR with a message naming the file and the problem.
 *
 * Ownership: an lfe owns its tables and their ids/values; lfe_free releases
 * all of it (safe on a zeroed lfe and after a failed read). lfe_find returns
 * a borrowed pointer valid until lfe_free.
 */
#ifndef LENSFLOW_LFE_H
#define LENSFLOW_LFE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

#define LFE_MAGIC "LFEMB001"
#define LFE_NAME_LEN 16
#define LFE_MAX_TABLES 64
#define LFE_MAX_DIM 4096

typedef struct lfe_table {
	char name[LFE_NAME_LEN + 1]; /* NUL-terminated copy */
	uint32_t rows, dim;
	int32_t *ids;                /* rows */
	float *values;               /* rows * dim */
} lfe_table;

typedef struct lfe {
	lfe_table *tables;
	uint32_t n_tables;
} lfe;

/* Reads and checks a whole file from a stream (stdin works). */
int lfe_read(FILE *f, const char *name, lfe *out, lf_error *err);
/* Same from memory (for fuzzing, and for callers that hash the bytes). */
int lfe_parse(const unsigned char *buf, size_t len, const char *name, lfe *out, lf_error *err);
/* Serialises to a new buffer (caller frees *buf). */
int lfe_serialize(const lfe *m, unsigned char **buf, size_t *len, lf_error *err);
/* Serialises and writes to f (one buffer, one write, checked). */
int lfe_write(FILE *f, const char *name, const lfe *m, lf_error *err);
/* Adds a zero-filled table; *out is borrowed. Fails on a repeated or bad name,
 * dim 0 or > LFE_MAX_DIM, or too many tables. */
int lfe_add_table(lfe *m, const char *name, uint32_t rows, uint32_t dim, lfe_table **out,
		  lf_error *err);
const lfe_table *lfe_find(const lfe *m, const char *name);
/* Row index of id in t, or -1 (linear; callers index for hot paths). */
long lfe_row_of(const lfe_table *t, int32_t id);
void lfe_free(lfe *m);

#endif
