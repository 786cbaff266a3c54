/*
 * jsontext.c — see jsontext.h. The reals of the ranked answers are written
 * without printf when exact integer arithmetic can: "%.9g" of a double is its
 * exact value rounded to 9 significant digits (half to even, as glibc), which
 * 128-bit integers hold for |v| in [1e-10, 1e10); other values go through
 * snprintf as jansson does. test_serve_jsontext compares both with jansson.
 */
#include "jsontext.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *json_quote(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	if (!j)
		return NULL;
	char *text = json_dumps(j, JSON_ENCODE_ANY);
	json_decref(j);
	return text;
}

size_t json_int(char *out, int64_t v)
{
	char tmp[24];
	size_t n = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	size_t len = 0;
	if (v < 0)
		out[len++] = '-';
	while (n)
		out[len++] = tmp[--n];
	out[len] = '\0';
	return len;
}

/* jansson's jsonp_dtostr after its snprintf: ".0" when there is neither '.'
 * nor 'e', then no '+' and no leading zeros in the exponent. */
static size_t jansson_fixup(char *s, size_t len)
{
	if (!strchr(s, '.') && !strchr(s, 'e')) {
		s[len++] = '.';
		s[len++] = '0';
		s[len] = '\0';
	}
	char *start = strchr(s, 'e');
	if (start) {
		start++;
		char *end = start + 1;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, len - (size_t)(end - s) + 1);
			len -= (size_t)(end - start);
		}
	}
	return len;
}

static const uint64_t POW10[20] = {
	1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
	100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
	10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
	100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull,
};

/* The 9 significant digits of a (in [1e-10, 1e10)) rounded half to even,
 * as an integer in [1e8, 1e9), and the decimal exponent of the first; -1
 * when the powers of ten needed are beyond the table (never in that range). */
static int digits9(double a, uint64_t *digits, int *exp10)
{
	/* a = m * 2^(e2 - 53) exactly, as frexp and ldexp(fr, 53) give them: a is
	 * normal here (>= 1e-10), so m is its 52 stored bits and the implicit 1 */
	uint64_t bits;
	memcpy(&bits, &a, sizeof bits);
	int e2 = (int)((bits >> 52) & 0x7ff) - 1022;
	uint64_t m = (bits & ((UINT64_C(1) << 52) - 1)) | UINT64_C(1) << 52;
	int shift = 53 - e2;                  /* 19..86 in this range */
	int p = (int)floor((e2 - 1) * 0.30102999566398120); /* log10(a), or one less */
	unsigned __int128 q = 0, num = 0, den = 1;
	int found = 0;
	for (int tries = 0; tries < 4 && !found; tries++) {
		if (p < -11 || p > 10 || shift < 0 || shift > 100)
			return -1;
		/* a / 10^(p-8) = num / den */
		num = (unsigned __int128)m * (p <= 8 ? POW10[8 - p] : 1);
		den = ((unsigned __int128)1 << shift) * (p > 8 ? POW10[p - 8] : 1);
		/* den is a power of two unless p > 8 (scores are mostly below 1e9) */
		q = p <= 8 ? num >> shift : num / den;
		if (q >= POW10[9])
			p++;
		else if (q < POW10[8])
			p--;
		else
			found = 1;
	}
	if (!found)
		return -1;
	unsigned __int128 r2 = (num - q * den) * 2;
	if (r2 > den || (r2 == den && (q & 1)))
		q++;
	if (q == POW10[9]) {
		q = POW10[8];
		p++;
	}
	*digits = (uint64_t)q;
	*exp10 = p;
	return 0;
}

size_t json_real9(char out[JSON_REAL_MAX], double v)
{
	double a = fabs(v);
	uint64_t q;
	int x;
	if (!(a >= 1e-10 && a < 1e10) || digits9(a, &q, &x) < 0) {
		int n = snprintf(out, JSON_REAL_MAX - 3, "%.9g", v);
		if (n < 0 || n >= JSON_REAL_MAX - 3) {
			out[0] = '\0';
			return 0;
		}
		return jansson_fixup(out, (size_t)n);
	}
	char d[9];
	for (int i = 8; i >= 0; i--, q /= 10)
		d[i] = (char)('0' + q % 10);
	int nd = 9; /* %g drops trailing zeros */
	while (nd > 1 && d[nd - 1] == '0')
		nd--;
	size_t len = 0;
	if (v < 0)
		out[len++] = '-';
	if (x >= -4 && x < 9) { /* %g's fixed style */
		if (x >= 0) {
			for (int i = 0; i <= x; i++)
				out[len++] = d[i];
			if (nd > x + 1) {
				out[len++] = '.';
				for (int i = x + 1; i < nd; i++)
					out[len++] = d[i];
			}
		} else {
			out[len++] = '0';
			out[len++] = '.';
			for (int i = 0; i < -x - 1; i++)
				out[len++] = '0';
			for (int i = 0; i < nd; i++)
				out[len++] = d[i];
		}
	} else { /* exponential, as jansson leaves it: e9, e-5 */
		out[len++] = d[0];
		if (nd > 1) {
			out[len++] = '.';
			for (int i = 1; i < nd; i++)
				out[len++] = d[i];
		}
		out[len++] = 'e';
		int e = x;
		if (e < 0) {
			out[len++] = '-';
			e = -e;
		}
		if (e >= 10)
			out[len++] = (char)('0' + e / 10);
		out[len++] = (char)('0' + e % 10);
	}
	out[len] = '\0';
	if (!memchr(out, '.', len) && !memchr(out, 'e', len)) {
		out[len++] = '.';
		out[len++] = '0';
		out[len] = '\0';
	}
	return len;
}
