/*
 * hash.h — SHA-256 (FIPS 180-4) and MD5 (RFC 1321), streaming, plus hex
 * helpers. MD5 only checks the GroupLens archive against its published sum;
 * SHA-256 identifies datasets and model files. CRC-32 is zlib's crc32().
 *
 * Ownership: contexts are plain values; nothing to free.
 */
#ifndef LENSFLOW_HASH_H
#define LENSFLOW_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct sha256_ctx {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t fill;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
void sha256_final(sha256_ctx *c, unsigned char out[32]);
/* hex of the digest of [data, data+len): 64 chars + NUL */
void sha256_hex(const void *data, size_t len, char out[65]);

typedef struct md5_ctx {
	uint32_t h[4];
	uint64_t len;
	unsigned char buf[64];
	size_t fill;
} md5_ctx;

void md5_init(md5_ctx *c);
void md5_update(md5_ctx *c, const void *data, size_t len);
void md5_final(md5_ctx *c, unsigned char out[16]);
void md5_hex(const void *data, size_t len, char out[33]);

/* Lower-case hex of n bytes into out (2n chars + NUL). */
void hex_encode(const unsigned char *in, size_t n, char *out);

#endif
