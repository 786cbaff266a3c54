/* test_hash.c — SHA-256, MD5 and hex against published test vectors
 * (FIPS 180-4 examples, RFC 1321 appendix A.5), streaming in odd pieces,
 * and zlib's CRC-32 check value. */
#include <string.h>
#include <zlib.h>

#include "hash.h"
#include "tap.h"

TEST(sha256_vectors)
{
	char hex[65];
	sha256_hex("", 0, hex);
	CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
	sha256_hex("abc", 3, hex);
	CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256_hex(two, strlen(two), hex);
	CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);
}

TEST(sha256_million_a_streamed)
{
	/* one million 'a' fed in pieces of 7 bytes: exercises the partial-block path */
	sha256_ctx c;
	unsigned char d[32];
	char hex[65];
	const char a[7] = "aaaaaaa";
	sha256_init(&c);
	size_t left = 1000000;
	while (left) {
		size_t n = left < 7 ? left : 7;
		sha256_update(&c, a, n);
		left -= n;
	}
	sha256_final(&c, d);
	hex_encode(d, 32, hex);
	CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
}

TEST(sha256_lengths_around_padding)
{
	/* 55, 56, 63, 64 bytes: one-shot and byte-by-byte must agree */
	unsigned char msg[130];
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (unsigned char)(i * 7 + 1);
	size_t lens[] = {55, 56, 57, 63, 64, 65, 119, 120, 128};
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		char one[65], two[65];
		unsigned char d[32];
		sha256_hex(msg, lens[k], one);
		sha256_ctx c;
		sha256_init(&c);
		for (size_t i = 0; i < lens[k]; i++)
			sha256_update(&c, msg + i, 1);
		sha256_final(&c, d);
		hex_encode(d, 32, two);
		CHECK(strcmp(one, two) == 0);
	}
	char hex[65];
	/* 56 'a': a two-block padding case with a known digest */
	char a56[56];
	memset(a56, 'a', sizeof a56);
	sha256_hex(a56, 56, hex);
	CHECK(strcmp(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a") == 0);
}

TEST(md5_vectors)
{
	char hex[33];
	md5_hex("", 0, hex);
	CHECK(strcmp(hex, "d41d8cd98f00b204e9800998ecf8427e") == 0);
	md5_hex("abc", 3, hex);
	CHECK(strcmp(hex, "900150983cd24fb0d6963f7d28e17f72") == 0);
	md5_hex("message digest", 14, hex);
	CHECK(strcmp(hex, "f96b697d7cb7938d525a2f31aaf161d0") == 0);
	const char *digits = "1234567890123456789012345678901234567890"
			     "1234567890123456789012345678901234567890";
	md5_hex(digits, strlen(digits), hex);
	CHECK(strcmp(hex, "57edf4a22be3c955ac49da2e2107b67a") == 0);
}

TEST(md5_streamed_equals_oneshot)
{
	const char *s = "The quick brown fox jumps over the lazy dog";
	char one[33], two[33];
	unsigned char d[16];
	md5_hex(s, strlen(s), one);
	CHECK(strcmp(one, "9e107d9d372bb6826bd81d3542a419d6") == 0);
	md5_ctx c;
	md5_init(&c);
	size_t len = strlen(s);
	for (size_t i = 0; i < len; i += 5)
		md5_update(&c, s + i, len - i < 5 ? len - i : 5);
	md5_final(&c, d);
	hex_encode(d, 16, two);
	CHECK(strcmp(one, two) == 0);
}

TEST(hex_encode_bytes)
{
	const unsigned char in[] = {0x00, 0x0f, 0xa0, 0xff};
	char out[9];
	hex_encode(in, 4, out);
	CHECK(strcmp(out, "000fa0ff") == 0);
	hex_encode(in, 0, out);
	CHECK(out[0] == '\0');
}

TEST(zlib_crc32_check_value)
{
	uLong c = crc32(0L, Z_NULL, 0);
	c = crc32(c, (const Bytef *)"123456789", 9);
	CHECK_EQ_INT(c, 0xCBF43926UL);
}

int main(void)
{
	RUN(sha256_vectors);
	RUN(sha256_million_a_streamed);
	RUN(sha256_lengths_around_padding);
	RUN(md5_vectors);
	RUN(md5_streamed_equals_oneshot);
	RUN(hex_encode_bytes);
	RUN(zlib_crc32_check_value);
	return tap_done();
}
