/* test-digest — SHA-512/256 and SHA-256 against known vectors, streaming
 * against one-shot, chunk id text form, and the whole-blob digests Debian's
 * casync printed for the data in tests/data/chunker-vectors.txt. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stasync/digest.h>
#include "tap.h"
#include "testdata.h"

struct known {
	stasync_digest_type type;
	const char *msg;
	size_t repeat; /* msg repeated this many times (0 = once) */
	const char *hex;
};

/* From Python's hashlib (FIPS 180-4 examples and a few of ours). */
static const struct known knowns[] = {
	{ STASYNC_DIGEST_SHA512_256, "", 0,
	  "c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a" },
	{ STASYNC_DIGEST_SHA512_256, "foobar", 0,
	  "d014c752bc2be868e16330f47e0c316a5967bcbc9c286a457761d7055b9214ce" },
	{ STASYNC_DIGEST_SHA512_256, "abc", 0,
	  "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23" },
	{ STASYNC_DIGEST_SHA512_256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0,
	  "bde8e1f9f19bb9fd3406c90ec6bc47bd36d8ada9f11880dbc8a22a7078b6a461" },
	{ STASYNC_DIGEST_SHA512_256, "a", 1000000,
	  "9a59a052930187a97038cae692f30708aa6491923ef5194394dc68d56c74fb21" },
	{ STASYNC_DIGEST_SHA256, "", 0,
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ STASYNC_DIGEST_SHA256, "foobar", 0,
	  "c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2" },
	{ STASYNC_DIGEST_SHA256, "abc", 0,
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ STASYNC_DIGEST_SHA256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0,
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ STASYNC_DIGEST_SHA256, "a", 1000000,
	  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
};

static const char *hex_of(const stasync_chunk_id *id)
{
	static char buf[STASYNC_DIGEST_HEX_SIZE];

	return stasync_chunk_id_format(id, buf);
}

static void test_known(void)
{
	size_t i, k;

	for (i = 0; i < sizeof(knowns) / sizeof(knowns[0]); i++) {
		const struct known *t = &knowns[i];
		const char *name = stasync_digest_type_name(t->type);
		size_t len = strlen(t->msg), reps = t->repeat ? t->repeat : 1;
		stasync_chunk_id one, streamed;
		stasync_digest *d = NULL;
		char *buf = malloc(len * reps + 1);

		if (!buf)
			exit(99);
		for (k = 0; k < reps; k++)
			memcpy(buf + k * len, t->msg, len);

		stasync_digest_buffer(t->type, buf, len * reps, &one);
		tap_ok(strcmp(hex_of(&one), t->hex) == 0, "%s of \"%.10s\"%s%zu: one-shot %s",
		       name, t->msg, t->repeat ? " ×" : "/", t->repeat ? t->repeat : len, hex_of(&one));

		/* The same message a piece at a time, through a reused object. */
		if (!tap_ok(stasync_digest_new(t->type, &d) == 0 && d, "%s: new", name)) {
			free(buf);
			continue;
		}
		stasync_digest_write(d, "garbage", 7);
		stasync_digest_reset(d);
		for (k = 0; k < reps; k++)
			stasync_digest_write(d, t->msg, len);
		stasync_digest_final(d, &streamed);
		tap_ok(stasync_chunk_id_equal(&streamed, &one), "%s of \"%.10s\": streamed after reset",
		       name, t->msg);
		stasync_digest_reset(d);
		stasync_digest_write(d, buf, len * reps);
		stasync_digest_final(d, &streamed);
		tap_ok(stasync_chunk_id_equal(&streamed, &one), "%s of \"%.10s\": reused after final",
		       name, t->msg);
		stasync_digest_free(d);
		free(buf);
	}
}

/* Streaming over random-sized pieces (including empty ones) must match the
 * one-shot digest, for both algorithms. */
static void test_streaming(void)
{
	const size_t n = 3 * 1024 * 1024 + 17;
	uint8_t *buf = malloc(n);
	stasync_digest_type type;

	if (!buf)
		exit(99);
	testdata_fill(buf, n, 5, TESTDATA_MIXED);
	for (type = STASYNC_DIGEST_SHA512_256; type <= STASYNC_DIGEST_SHA256; type++) {
		stasync_chunk_id one, streamed;
		stasync_digest *d;
		uint64_t rng = type;
		size_t off = 0;

		stasync_digest_buffer(type, buf, n, &one);
		if (!tap_ok(stasync_digest_new(type, &d) == 0, "new %s", stasync_digest_type_name(type)))
			continue;
		while (off < n) {
			size_t k = (size_t)(testdata_rand(&rng) % 200000);

			if (testdata_rand(&rng) % 4 == 0)
				k %= 130; /* around the 64/128-byte block sizes */
			if (k > n - off)
				k = n - off;
			stasync_digest_write(d, buf + off, k);
			off += k;
		}
		stasync_digest_final(d, &streamed);
		tap_ok(stasync_chunk_id_equal(&one, &streamed), "%s: streamed in pieces = one-shot",
		       stasync_digest_type_name(type));
		stasync_digest_free(d);
	}
	free(buf);
}

/* The string with control characters escaped, for one-line TAP output. */
static const char *printable(const char *s)
{
	static char buf[256];
	size_t n = 0;

	for (; *s && n + 5 < sizeof(buf); s++) {
		if (*s >= 0x20 && *s < 0x7f)
			buf[n++] = *s;
		else
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\\x%02x", (unsigned char)*s);
	}
	buf[n] = 0;
	return buf;
}

static void test_hex(void)
{
	static const char *const bad[] = {
		"",
		"c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967",   /* 63 */
		"c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a0", /* 65 */
		"c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967g",
		"x672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a",
		" c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef096",
		"c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a ",
		"c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a\n",
		"0xc672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef096",
		"c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef09-7a",
	};
	const char *good = "00ff10a5c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01e";
	char out[STASYNC_DIGEST_HEX_SIZE];
	stasync_chunk_id id, id2, untouched;
	size_t i;
	int r;

	r = stasync_chunk_id_parse(good, &id);
	tap_ok(r == 0 && id.bytes[0] == 0x00 && id.bytes[1] == 0xff && id.bytes[2] == 0x10 &&
	       id.bytes[31] == 0x1e, "chunk_id_parse of a valid id");
	tap_ok(strcmp(stasync_chunk_id_format(&id, out), good) == 0 && strlen(out) == 64,
	       "chunk_id_format round trip: %s", out);
	r = stasync_chunk_id_parse("00FF10A5C672B8D1EF56ED28AB87C3622C5114069BDD3AD7B8F9737498D0C01E", &id2);
	tap_ok(r == 0 && stasync_chunk_id_equal(&id, &id2), "chunk_id_parse accepts upper case");
	id2.bytes[31] ^= 1;
	tap_ok(!stasync_chunk_id_equal(&id, &id2), "chunk_id_equal sees the last byte");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&untouched, 0xaa, sizeof(untouched));
		id2 = untouched;
		r = stasync_chunk_id_parse(bad[i], &id2);
		tap_ok(r == -EINVAL && stasync_chunk_id_equal(&id2, &untouched),
		       "chunk_id_parse rejects \"%s\" (got %d)", printable(bad[i]), r);
	}
}

static void test_type_names(void)
{
	stasync_digest_type t = STASYNC_DIGEST_SHA256;
	int r;

	r = stasync_digest_type_parse("sha512-256", &t);
	tap_ok(r == 0 && t == STASYNC_DIGEST_SHA512_256, "digest_type_parse sha512-256");
	r = stasync_digest_type_parse("sha256", &t);
	tap_ok(r == 0 && t == STASYNC_DIGEST_SHA256, "digest_type_parse sha256");
	tap_ok(stasync_digest_type_parse("sha512", &t) == -EINVAL &&
	       stasync_digest_type_parse("SHA256", &t) == -EINVAL &&
	       stasync_digest_type_parse("", &t) == -EINVAL &&
	       stasync_digest_type_parse("sha512-2566", &t) == -EINVAL,
	       "digest_type_parse rejects unknown names");
	tap_ok(strcmp(stasync_digest_type_name(STASYNC_DIGEST_SHA512_256), "sha512-256") == 0 &&
	       strcmp(stasync_digest_type_name(STASYNC_DIGEST_SHA256), "sha256") == 0,
	       "digest_type_name");
}

/* What casync make printed is the digest of the whole blob. */
static void test_blob_digests(void)
{
	const char *path = tap_srcpath("tests/data/chunker-vectors.txt");
	struct testdata_vector *v;
	size_t n, i;
	int r;

	r = testdata_vectors_load(path, &v, &n);
	if (!tap_ok(r == 0 && n > 0, "load %s", path))
		return;
	for (i = 0; i < n; i++) {
		stasync_digest_type type;
		stasync_chunk_id got, want;
		uint8_t *data;

		if (stasync_digest_type_parse(v[i].digest_type, &type) < 0 ||
		    stasync_chunk_id_parse(v[i].digest, &want) < 0) {
			tap_ok(false, "case %zu: digest %s %s parses", i, v[i].digest_type, v[i].digest);
			continue;
		}
		data = malloc(v[i].size ? v[i].size : 1);
		if (!data)
			exit(99);
		testdata_fill(data, v[i].size, v[i].seed, v[i].kind);
		stasync_digest_buffer(type, data, v[i].size, &got);
		tap_ok(stasync_chunk_id_equal(&got, &want), "%s of %s seed %" PRIu64 " size %" PRIu64
		       " = casync's %.16s…", v[i].digest_type, testdata_kind_name(v[i].kind),
		       v[i].seed, v[i].size, v[i].digest);
		free(data);
	}
	testdata_vectors_free(v, n);
}

int main(void)
{
	tap_ok(stasync_digest_init() == 0, "digest_init");
	test_known();
	test_streaming();
	test_hex();
	test_type_names();
	test_blob_digests();
	return tap_done();
}
