/*
 * fuzz_utf8_valid.c — differential target: lib/tsv.c's utf8_valid against a
 * reference written from the Unicode table of well-formed byte sequences
 * (Unicode 15, table 3-7), which is organised differently (by lead byte
 * ranges, with the second byte's range depending on the lead); and its
 * utf8_count (the one validator every tool uses, ml-serve's search text and
 * titles too) for the code point count.
 */
#include <string.h>

#include "fuzz_check.h"
#include "tsv.h"

static int in(unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; }

/* Table 3-7 row by row; returns 1 when valid and counts the code points. */
static int ref_valid(const unsigned char *s, size_t n, size_t *count)
{
	size_t i = 0, cps = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t need;
		unsigned lo = 0x80, hi = 0xbf; /* range of the second byte */
		if (c <= 0x7f) {
			need = 0;
		} else if (in(c, 0xc2, 0xdf)) {
			need = 1;
		} else if (c == 0xe0) {
			need = 2, lo = 0xa0;
		} else if (in(c, 0xe1, 0xec) || in(c, 0xee, 0xef)) {
			need = 2;
		} else if (c == 0xed) {
			need = 2, hi = 0x9f;
		} else if (c == 0xf0) {
			need = 3, lo = 0x90;
		} else if (in(c, 0xf1, 0xf3)) {
			need = 3;
		} else if (c == 0xf4) {
			need = 3, hi = 0x8f;
		} else {
			return 0;
		}
		if (n - i - 1 < need)
			return 0;
		for (size_t k = 1; k <= need; k++) {
			unsigned char d = s[i + k];
			if (k == 1 ? !in(d, lo, hi) : !in(d, 0x80, 0xbf))
				return 0;
		}
		i += need + 1;
		cps++;
	}
	*count = cps;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t ref_count = 0;
	int ref = ref_valid(data, size, &ref_count);
	int got = utf8_valid((const char *)data, size) ? 1 : 0;
	if (got != ref)
		fuzz_fail(ref ? "utf8_valid refuses valid UTF-8" : "utf8_valid accepts invalid UTF-8",
			  NULL);
	size_t n = 0;
	int rc = utf8_count((const char *)data, size, &n);
	if ((rc == 0) != ref)
		fuzz_fail("utf8_count disagrees with the reference", NULL);
	if (rc == 0)
		FUZZ_CHECK(n == ref_count);
	return 0;
}
