/*
 * buf.h — a growable byte buffer for building response bodies and SQL
 * parameters off the (small) worker stacks.
 *
 * Ownership: the buffer owns p; buf_free() releases it, buf_take() hands it
 * to the caller. After an allocation failure every append is a no-op and
 * buf.failed stays set, so callers check once at the end.
 */
#ifndef ML_SERVE_BUF_H
#define ML_SERVE_BUF_H

#include <stddef.h>
#include <string.h>

struct buf {
	char *p;
	size_t len, cap;
	int failed;
};

/* Room for extra more bytes (and a NUL); -1 after a failure. */
int buf_reserve(struct buf *b, size_t extra);
/* buf_append's way when the bytes do not fit (or after a failure). */
void buf_append_grow(struct buf *b, const char *s, size_t n);
/* Appends n bytes of s and keeps the contents NUL-terminated. Inline: an
 * answer is built from many short pieces, and most fit in the room left. */
static inline void buf_append(struct buf *b, const char *s, size_t n)
{
	if (!b->failed && n < b->cap - b->len) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
		b->p[b->len] = '\0';
		return;
	}
	buf_append_grow(b, s, n);
}
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a Prometheus label value: backslash, quote and newline escaped. */
void buf_label(struct buf *b, const char *s);
/* NUL-terminated contents, or NULL after a failure; the buffer is emptied. */
char *buf_take(struct buf *b, size_t *len);
void buf_free(struct buf *b);

#endif
