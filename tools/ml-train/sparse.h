/*
 * sparse.h — the products with the 0/1 rating matrix that let EASE and iALS
 * train without any dense users x movies or movies x movies matrix: a CSR's
 * transpose, and Y = X B (each row of Y the sum of the rows of B that the
 * row of X names), split over threads by rows. The values of the CSR are
 * ignored: every rating counts as a 1, as both models read the data.
 *
 * csr_part_end and run_parts are the split and the fan-out that spmm and
 * iALS's CG steps share.
 *
 * Ownership: csr_transpose fills a csr the caller frees with csr_free;
 * spmm writes into the caller's Y.
 */
#ifndef LENSFLOW_TRAIN_SPARSE_H
#define LENSFLOW_TRAIN_SPARSE_H

#include <stddef.h>

#include "dataset.h"

/* rows x cols CSR -> its transpose (cols x rows), column indices ascending,
 * no values. -1: out of memory. */
int csr_transpose(const csr *m, size_t cols, csr *t);

/* Y (X->n_rows x w, row-major) = X B, B row-major with w columns, on up to
 * `threads` threads (the rows split into contiguous parts with about the
 * same number of ratings: the result does not depend on the thread count). */
void spmm(const csr *X, const float *B, size_t w, float *Y, int threads);

/* The parts a CSR's rows are split into: part t of n (0-based) starts at
 * row r0 (where part t-1 ended) and ends at the returned row, so that each
 * holds about the same number of ratings plus one per row; the last ends at
 * X->n_rows. The split depends on n only, never on timing. */
size_t csr_part_end(const csr *X, int t, int n, size_t r0);

/* fn on each of the n parts (part t at (char *)parts + t * size): parts
 * 1..n-1 on threads of their own, part 0 (and any part whose thread could
 * not start, and any past the 64th) on this thread; returns when all are
 * done. */
void run_parts(void *(*fn)(void *), void *parts, size_t size, int n);

#endif
