/*
 * pg.h — the thin layer over libpq that lensflow's tools share: connecting
 * (with a timeout, the tool's name as application_name, and one-line errors
 * that never show a password), statements with parameters and checked
 * results, transactions, advisory locks, and a writer of COPY ... (FORMAT
 * binary) payloads (int2, int4, text, text[], timestamptz and pgvector's
 * `vector`) that sends them in large chunks.
 *
 * Errors follow log.h: 0 / -1 and a filled lf_error. Codes: a bad URL is
 * EX_USAGE; a connection that cannot be made or is lost, EX_UNAVAILABLE; a
 * server error by its SQLSTATE class (data and constraint errors EX_DATAERR,
 * serialization failures, deadlocks and lock timeouts EX_TEMPFAIL, other
 * errors EX_SOFTWARE).
 *
 * Ownership: pg_connect gives a PGconn the caller closes with PQfinish.
 * pg_query returns a PGresult the caller frees with PQclear. A pg_copy owns
 * its buffer from pg_copy_begin until pg_copy_end or pg_copy_abort (exactly
 * one of them must be called once pg_copy_begin succeeded).
 */
#ifndef LENSFLOW_PG_H
#define LENSFLOW_PG_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "log.h"

/* Identifiers we build (lf_<model>_v<N>_users) stay far below this. */
#define PG_IDENT_MAX 128
/* PQputCopyData is called with chunks of about this size. */
#define PG_COPY_CHUNK (1u << 20)
/* pgvector 0.8: the most dimensions of a `vector`, and of one HNSW indexes. */
#define PG_VECTOR_MAX_DIM 16000
#define PG_HNSW_MAX_DIM 2000

/* Checks the syntax of a libpq URL or key=value string (EX_USAGE when bad). */
int pg_url_check(const char *url, lf_error *err);

/* Connects with connect_timeout = timeout_s (unless the URL sets its own),
 * application_name = app, client_encoding UTF8. */
int pg_connect(const char *url, const char *app, int timeout_s, PGconn **out, lf_error *err);

/* A new connection c made ready as pg_connect's are (server notices dropped,
 * the server looking for a vanished client every second) and given to *out;
 * on failure c is closed (PQfinish) and *out left alone. */
int pg_session(PGconn *c, PGconn **out, lf_error *err);

/* Fills err from a failed result (res may be NULL), prefixed by what. */
int pg_fail_result(lf_error *err, PGconn *c, const PGresult *res, const char *what);

/* Runs sql with n text parameters (NULL entries are SQL NULLs). Returns the
 * result (PGRES_TUPLES_OK or PGRES_COMMAND_OK) or NULL with err filled. */
PGresult *pg_query(PGconn *c, const char *sql, int n, const char *const *vals, lf_error *err);
/* The same for statements whose rows are not wanted. */
int pg_exec(PGconn *c, const char *sql, int n, const char *const *vals, lf_error *err);

int pg_begin(PGconn *c, lf_error *err);
int pg_commit(PGconn *c, lf_error *err);
/* Best effort (the connection may be gone): never fails. */
void pg_rollback(PGconn *c);

/* pg_advisory_xact_lock(hashtext(key)): held until the transaction ends. */
int pg_xact_lock(PGconn *c, const char *key, lf_error *err);

/* Quotes name as an identifier into out (cap bytes, NUL-terminated). */
int pg_ident(PGconn *c, const char *name, char *out, size_t cap, lf_error *err);

/* ---- COPY (FORMAT binary) -------------------------------------------------
 * The put functions never fail on their own: an allocation failure or a
 * failed send is remembered and returned by pg_copy_row / pg_copy_end. */

typedef struct pg_copy {
	PGconn *conn;
	unsigned char *buf;
	size_t len, cap;
	int failed; /* sticky: err holds why */
	lf_error err;
	uint64_t rows; /* rows written so far */
} pg_copy;

/* Sends sql (a "COPY ... FROM STDIN (FORMAT binary)") and the file header. */
int pg_copy_begin(pg_copy *cp, PGconn *c, const char *sql, lf_error *err);
/* Starts a row of nfields fields; sends the buffer first when it is full. */
int pg_copy_row(pg_copy *cp, int16_t nfields, lf_error *err);
void pg_copy_null(pg_copy *cp);
void pg_copy_int2(pg_copy *cp, int16_t v);
void pg_copy_int4(pg_copy *cp, int32_t v);
void pg_copy_float4(pg_copy *cp, float v);
void pg_copy_text(pg_copy *cp, const char *s, size_t len);
/* timestamptz from unix seconds; the caller checks the range with
 * pg_unix_time_ok (Postgres' timestamps span 4713 BC .. 294276 AD). */
void pg_copy_timestamptz(pg_copy *cp, int64_t unix_seconds);
int pg_unix_time_ok(int64_t unix_seconds);
/* timestamptz from unix microseconds (same range check). */
void pg_copy_timestamptz_us(pg_copy *cp, int64_t unix_us);
/* int4[] of one dimension, no NULLs. */
void pg_copy_int4_array(pg_copy *cp, const int32_t *v, size_t n);
/* text[] of one dimension, elements [s_i, s_i + len_i). */
void pg_copy_text_array(pg_copy *cp, const char *const *s, const size_t *len, size_t n);
/* pgvector `vector`: int16 dim, int16 unused (0), float4[dim], big-endian.
 * dim must be 1..PG_VECTOR_MAX_DIM (checked by the caller). */
void pg_copy_vector(pg_copy *cp, const float *v, uint32_t dim);
/* Sends the trailer, ends the COPY, checks its result. Frees the buffer. */
int pg_copy_end(pg_copy *cp, lf_error *err);
/* Ends a COPY that failed half-way (the server rolls the statement back). */
void pg_copy_abort(pg_copy *cp);

#endif
