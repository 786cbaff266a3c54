/*
 * jsontext.h — JSON text written directly, byte for byte as jansson's
 * json_dumps writes it, for the ranked answers' hot path (no json_t tree, no
 * allocation per value): a title quoted and escaped once per snapshot, a real
 * with 9 significant digits (JSON_REAL_PRECISION(9)), an integer.
 *
 * Ownership: json_quote returns a malloc'ed string the caller frees.
 */
#ifndef ML_SERVE_JSONTEXT_H
#define ML_SERVE_JSONTEXT_H

#include <stddef.h>
#include <stdint.h>

/* The JSON string of s[0..len) with its quotes, as json_dumps writes it
 * (JSON_ENCODE_ANY, no ASCII or slash escaping); NULL when s is not valid
 * UTF-8 (jansson refuses it too) or out of memory. */
char *json_quote(const char *s, size_t len);

#define JSON_REAL_MAX 32
/* v as json_dumps writes a real with JSON_REAL_PRECISION(9): "%.9g", ".0"
 * added when that reads as an integer, the exponent without '+' and leading
 * zeros. v must be finite. Returns the length written into out (NUL-terminated). */
size_t json_real9(char out[JSON_REAL_MAX], double v);

/* v in decimal; returns the length written into out (at least 21 bytes). */
size_t json_int(char *out, int64_t v);

#endif
