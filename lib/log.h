/*
 * log.h — messages on stderr prefixed by the tool's name, and the error value
 * that library functions fill instead of printing.
 *
 * Convention of every lib/ function that can fail: it returns 0 on success and
 * -1 on failure, after filling the caller's lf_error with a sysexits code and
 * one line of text (no trailing newline, no program name). main() prints that
 * line with log_error() and exits with err.code. Nothing in lib/ calls exit().
 *
 * Ownership: lf_error is a plain value (fixed buffer); nothing to free.
 */
#ifndef LENSFLOW_LOG_H
#define LENSFLOW_LOG_H

#include <stdarg.h>
#include <sysexits.h>

#define LF_ERROR_MAX 512

typedef struct lf_error {
	int code;                /* an EX_* code of sysexits.h; 0 while unset */
	char msg[LF_ERROR_MAX];  /* one line, no newline */
} lf_error;

/* Formats msg into err (truncating safely), sets err->code, returns -1. */
int lf_fail(lf_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As lf_fail, with ": strerror(errnum)" appended. */
int lf_fail_errno(lf_error *err, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prefixes err->msg with "what: " (for adding context on the way up). */
void lf_error_prefix(lf_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The program name used as prefix ("ml-train"); set once from main(). */
void log_set_prog(const char *name);
const char *log_prog(void);

/* Verbosity: 0 quiet (errors only), 1 normal (default), 2 verbose. */
void log_set_level(int level);
int log_level(void);

/* "prog: message\n" on stderr. log_error always prints; log_info at level >= 1;
 * log_debug at level >= 2. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
