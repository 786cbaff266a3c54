/*
 * log.c — see log.h. Each message is formatted into one buffer and written
 * with a single fputs, so lines from threads do not interleave mid-line.
 */
#include "log.h"

#include <stdio.h>
#include <string.h>

static const char *prog = "lensflow";
static int level = 1;

void log_set_prog(const char *name)
{
	const char *slash = strrchr(name, '/');
	prog = slash ? slash + 1 : name;
}

const char *log_prog(void) { return prog; }
void log_set_level(int l) { level = l; }
int log_level(void) { return level; }

static void vlog(const char *fmt, va_list ap)
{
	char line[LF_ERROR_MAX + 128];
	int n = snprintf(line, sizeof line, "%s: ", prog);
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	size_t len = strlen(line);
	if (len + 1 < sizeof line) {
		line[len] = '\n';
		line[len + 1] = '\0';
	} else {
		line[sizeof line - 2] = '\n';
	}
	fputs(line, stderr);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	if (level < 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	if (level < 2)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

int lf_fail(lf_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	err->code = code;
	return -1;
}

int lf_fail_errno(lf_error *err, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	size_t len = strlen(err->msg);
	snprintf(err->msg + len, sizeof err->msg - len, ": %s", strerror(errnum));
	err->code = code;
	return -1;
}

void lf_error_prefix(lf_error *err, const char *fmt, ...)
{
	char head[LF_ERROR_MAX];
	char old[LF_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof head, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	/* truncation is intended: the message stays one bounded line */
	size_t n = strnlen(head, sizeof err->msg - 1);
	memcpy(err->msg, head, n);
	size_t rest = sizeof err->msg - n;
	if (rest > 3) {
		memcpy(err->msg + n, ": ", 2);
		size_t m = strnlen(old, rest - 3);
		memcpy(err->msg + n + 2, old, m);
		err->msg[n + 2 + m] = '\0';
	} else {
		err->msg[n] = '\0';
	}
}
