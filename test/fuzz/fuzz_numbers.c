/*
 * fuzz_numbers.c — differential target for lib/util.c's number parsers.
 * parse_i64 / parse_i64_n against a reference that checks the grammar
 * "-?[0-9]+" and computes the value in 128 bits; parse_double against a
 * reference that checks strtod's decimal and hexadecimal grammar by hand
 * (so leading spaces, "inf", "nan", a dangling exponent are refused by the
 * grammar, not by strtod's end pointer) and then takes strtod's value.
 * The first input byte picks the [min, max] range, the rest is the text.
 */
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "fuzz_check.h"
#include "util.h"

static const int64_t i_ranges[][2] = {
	{INT64_MIN, INT64_MAX}, {0, INT32_MAX}, {1, 5}, {-100, 100},
	{INT64_MIN, -1}, {1, INT64_MAX}, {0, 0}, {INT32_MIN, INT32_MAX},
};
static const double d_ranges[][2] = {
	{-HUGE_VAL, HUGE_VAL}, {0.0, 1.0}, {1.0, 5.0}, {-1e300, 1e300},
	{0.0, DBL_MAX}, {-DBL_MAX, 0.0}, {1e-300, 1e-10}, {-0.0, 0.0},
};

static int ref_i64(const char *s, size_t n, int64_t min, int64_t max, int64_t *out)
{
	size_t i = n > 0 && s[0] == '-' ? 1 : 0;
	if (i == n)
		return -1;
	__int128 v = 0;
	for (size_t j = i; j < n; j++) {
		if (s[j] < '0' || s[j] > '9')
			return -1;
		if (v < ((__int128)1 << 100)) /* saturate far beyond int64 */
			v = v * 10 + (s[j] - '0');
	}
	if (i)
		v = -v;
	if (v < min || v > max)
		return -1;
	*out = (int64_t)v;
	return 0;
}

static size_t digits(const char *s, size_t i, int hex)
{
	while (hex ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i]))
		i++;
	return i;
}

/* 1 when s is, in full, a finite strtod number in the C locale. */
static int ref_double_syntax(const char *s)
{
	size_t i = 0;
	if (s[i] == '+' || s[i] == '-')
		i++;
	int hex = s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X') &&
		  (isxdigit((unsigned char)s[i + 2]) ||
		   (s[i + 2] == '.' && isxdigit((unsigned char)s[i + 3])));
	if (hex)
		i += 2;
	size_t a = digits(s, i, hex);
	size_t mant = a - i;
	i = a;
	if (s[i] == '.') {
		size_t b = digits(s, i + 1, hex);
		mant += b - i - 1;
		i = b;
	}
	if (mant == 0)
		return 0;
	char e = hex ? 'p' : 'e';
	if (tolower((unsigned char)s[i]) == e) {
		size_t j = i + 1;
		if (s[j] == '+' || s[j] == '-')
			j++;
		size_t k = digits(s, j, 0);
		if (k == j)
			return 0; /* strtod would stop before the 'e': trailing garbage */
		i = k;
	}
	return s[i] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned sel = data[0];
	const char *text = (const char *)data + 1;
	size_t n = size - 1;

	int64_t lo = i_ranges[sel % 8][0], hi = i_ranges[sel % 8][1];
	int64_t got = 42, want = 42;
	int rg = parse_i64_n(text, n, lo, hi, &got);
	int rw = ref_i64(text, n, lo, hi, &want);
	FUZZ_CHECK(rg == rw);
	FUZZ_CHECK(got == want); /* equal values, or both left untouched */

	char *s = fuzz_cstr((const uint8_t *)text, n);
	int64_t g2 = 7, w2 = 7;
	FUZZ_CHECK(parse_i64(s, lo, hi, &g2) == ref_i64(s, strlen(s), lo, hi, &w2));
	FUZZ_CHECK(g2 == w2);

	double dlo = d_ranges[(sel >> 3) % 8][0], dhi = d_ranges[(sel >> 3) % 8][1];
	double dv = 0.5;
	int dr = parse_double(s, dlo, dhi, &dv);
	int ok = 0;
	double ref = 0;
	if (ref_double_syntax(s)) {
		ref = strtod(s, NULL);
		ok = isfinite(ref) && ref >= dlo && ref <= dhi;
	}
	if ((dr == 0) != ok)
		fuzz_fail(ok ? "parse_double refuses a valid number" : "parse_double accepts a bad number",
			  s);
	if (ok)
		FUZZ_CHECK(memcmp(&dv, &ref, sizeof dv) == 0);
	else
		FUZZ_CHECK(dv == 0.5);
	free(s);
	return 0;
}
