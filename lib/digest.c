/* Chunk ids and content digests through libgcrypt. */
#include <pthread.h>
#include <gcrypt.h>

#include <stasync/digest.h>
#include "util.h"

struct stasync_digest {
	gcry_md_hd_t hd;
	int algo;
};

/* libgcrypt must be initialised once per process before use; the library
 * keeps no state of its own beyond this one-time call. */
static pthread_once_t gcrypt_once = PTHREAD_ONCE_INIT;
static int gcrypt_state;

static void gcrypt_setup(void)
{
	if (!gcry_check_version("1.9.0")) {
		gcrypt_state = -ENOTSUP;
		return;
	}
	gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
}

int stasync_digest_init(void)
{
	pthread_once(&gcrypt_once, gcrypt_setup);
	return gcrypt_state;
}

static int algo_of(stasync_digest_type type)
{
	return type == STASYNC_DIGEST_SHA256 ? GCRY_MD_SHA256 : GCRY_MD_SHA512_256;
}

int stasync_digest_new(stasync_digest_type type, stasync_digest **ret)
{
	stasync_digest *d;
	int r = stasync_digest_init();

	if (r < 0)
		return r;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->algo = algo_of(type);
	if (gcry_md_open(&d->hd, d->algo, 0) != 0) {
		free(d);
		return -ENOTSUP;
	}
	*ret = d;
	return 0;
}

void stasync_digest_free(stasync_digest *d)
{
	if (!d)
		return;
	gcry_md_close(d->hd);
	free(d);
}

void stasync_digest_reset(stasync_digest *d)
{
	gcry_md_reset(d->hd);
}

void stasync_digest_write(stasync_digest *d, const void *p, size_t n)
{
	gcry_md_write(d->hd, p, n);
}

void stasync_digest_final(stasync_digest *d, stasync_chunk_id *out)
{
	memcpy(out->bytes, gcry_md_read(d->hd, d->algo), STASYNC_DIGEST_SIZE);
	gcry_md_reset(d->hd);
}

void stasync_digest_buffer(stasync_digest_type type, const void *p, size_t n,
			   stasync_chunk_id *out)
{
	stasync_digest_init();
	gcry_md_hash_buffer(algo_of(type), out->bytes, p, n);
}

const char *stasync_digest_type_name(stasync_digest_type type)
{
	return type == STASYNC_DIGEST_SHA256 ? "sha256" : "sha512-256";
}

int stasync_digest_type_parse(const char *name, stasync_digest_type *ret)
{
	if (strcmp(name, "sha512-256") == 0)
		*ret = STASYNC_DIGEST_SHA512_256;
	else if (strcmp(name, "sha256") == 0)
		*ret = STASYNC_DIGEST_SHA256;
	else
		return -EINVAL;
	return 0;
}

char *stasync_chunk_id_format(const stasync_chunk_id *id, char out[STASYNC_DIGEST_HEX_SIZE])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < STASYNC_DIGEST_SIZE; i++) {
		out[2 * i] = hex[id->bytes[i] >> 4];
		out[2 * i + 1] = hex[id->bytes[i] & 15];
	}
	out[2 * STASYNC_DIGEST_SIZE] = 0;
	return out;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int stasync_chunk_id_parse(const char *hex, stasync_chunk_id *ret)
{
	stasync_chunk_id id;

	for (size_t i = 0; i < STASYNC_DIGEST_SIZE; i++) {
		int hi, lo;

		if (!hex[2 * i] || !hex[2 * i + 1])
			return -EINVAL;
		hi = unhex(hex[2 * i]);
		lo = unhex(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		id.bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	if (hex[2 * STASYNC_DIGEST_SIZE])
		return -EINVAL;
	*ret = id;
	return 0;
}

bool stasync_chunk_id_equal(const stasync_chunk_id *a, const stasync_chunk_id *b)
{
	return memcmp(a->bytes, b->bytes, STASYNC_DIGEST_SIZE) == 0;
}
