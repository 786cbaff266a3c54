/*
 * fuzz_check.h — the one assertion the fuzz targets use: a broken property
 * prints what and where and aborts, which libFuzzer reports as a crash and
 * saves the input (unlike assert(), it is never compiled out).
 */
#ifndef LENSFLOW_FUZZ_CHECK_H
#define LENSFLOW_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz property broken: %s%s%s\n", what, detail ? ": " : "",
		detail ? detail : "");
	abort();
}

#define FUZZ_STR2(x) #x
#define FUZZ_STR(x) FUZZ_STR2(x)
#define FUZZ_CHECK(cond)                                                                   \
	do {                                                                               \
		if (!(cond))                                                               \
			fuzz_fail(__FILE__ ":" FUZZ_STR(__LINE__) ": " #cond, NULL);      \
	} while (0)

/* A NUL-terminated copy of the input (caller frees); aborts on OOM. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	for (size_t i = 0; i < size; i++)
		s[i] = (char)data[i];
	s[size] = '\0';
	return s;
}

#endif
