/*
 * sparse.h — the products with the 0/1 rating matrix that let EASE and iALS
 * train without any dense users x movies or movies x movies matrix: a CSR's
 * transpose, and Y = X B (each row of Y the sum of the rows of B that the
 * row of X names), split over threads by rows. The values of the CSR are
 * ignored: every rating counts as a 1, as both models read the data.
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

#endif
