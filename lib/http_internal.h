/*
 * http_internal.h — what http.c shares with http_get.c; not for callers
 * outside lib/http*.c. http_sink_write lives in http_get.c, so that a tool
 * that only GETs (ml-fetch) links no jansson.
 *
 * Ownership: an http_sink's data is the caller's to free() (also after a
 * failed transfer); the sink itself is the caller's variable.
 */
#ifndef LENSFLOW_HTTP_INTERNAL_H
#define LENSFLOW_HTTP_INTERNAL_H

#include <stddef.h>

/* An answer's bytes gathered in memory, NUL-terminated, at most max bytes. */
typedef struct http_sink {
	unsigned char *data;
	size_t len, cap, max;
	int too_big, no_memory; /* why a transfer stopped */
} http_sink;

/* CURLOPT_WRITEFUNCTION with CURLOPT_WRITEDATA an http_sink: returns 0 (curl
 * stops with CURLE_WRITE_ERROR) past max or when realloc fails. */
size_t http_sink_write(char *ptr, size_t size, size_t nmemb, void *sink);

#endif
