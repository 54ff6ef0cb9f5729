/* fuzz-options — the library's option value parsers: feature and set
 * names (--with=/--without=), stasync_feature_flags_normalize() and
 * _format(), --digest= (stasync_digest_type_parse()), --compression=
 * (stasync_compression_parse()) and chunk ids (stasync_chunk_id_parse()).
 * --what= is a table lookup in the tool, not in the library; --chunk-size=
 * has fuzz-chunk-size.
 *
 * Input: the text up to the first NUL goes to every parser as it is, and
 * as a list of words "+NAME" (--with) / "-NAME" (--without) combined the
 * way casync does. After the NUL: 8 bytes of raw feature flags
 * (little-endian) and one byte, the size of the buffer to format them
 * into. Checks:
 *   - a known name has bits, all valid; a single feature's name is what
 *     formatting its bit gives; a set's formatted names parse back to it;
 *   - normalize() is idempotent, leaves bits outside the valid ones alone
 *     and adds only the bits its rules name;
 *   - format() stays within its buffer, NUL-terminated, a prefix of the
 *     whole text, and the whole text parses back to the flags;
 *   - the digest, compression and chunk id parsers accept exactly their
 *     documented inputs, and name them back the same way. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stasync/digest.h>
#include <stasync/features.h>
#include <stasync/store.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FORMAT_MAX 1024

static char *dup_text(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

/* Parse text as formatted flags: names, and one trailing "0x…". */
static uint64_t parse_formatted(const char *text)
{
	char *copy = strdup(text), *save = NULL, *w;
	uint64_t flags = 0, f;

	if (!copy)
		abort();
	for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (strncmp(w, "0x", 2) == 0) {
			char *end;

			f = strtoull(w + 2, &end, 16);
			if (*end || !f || (f & flags))
				abort();
		} else if (stasync_feature_flags_from_name(w, &f) < 0 || (f & (f - 1)) ||
			   (f & flags)) {
			abort();
		}
		flags |= f;
	}
	free(copy);
	return flags;
}

static void check_format(uint64_t flags, size_t n)
{
	static char whole[FORMAT_MAX];
	char *small;

	if (stasync_feature_flags_format(flags, whole, sizeof(whole)) != whole ||
	    strlen(whole) >= sizeof(whole) - 1 || parse_formatted(whole) != flags)
		abort();
	if ((flags == 0) != (whole[0] == 0))
		abort();
	/* An exact-size buffer, so ASan sees a write past it. */
	small = malloc(n ? n : 1);
	if (!small)
		abort();
	if (stasync_feature_flags_format(flags, small, n) != small)
		abort();
	if (n > 0) {
		size_t len = strnlen(small, n);

		if (len >= n || strncmp(small, whole, len) != 0 ||
		    len != (strlen(whole) < n ? strlen(whole) : n - 1))
			abort();
	}
	free(small);
}

static void check_normalize(uint64_t flags)
{
	const uint64_t added = STASYNC_WITH_32BIT_UIDS | STASYNC_WITH_USER_NAMES |
			       STASYNC_WITH_SUBVOLUME;
	uint64_t n = stasync_feature_flags_normalize(flags);

	if (stasync_feature_flags_normalize(n) != n)
		abort();
	if ((n & ~STASYNC_FEATURES_VALID) != (flags & ~STASYNC_FEATURES_VALID))
		abort();
	if (n & ~flags & ~added)
		abort();
	/* At most one time resolution, at most one uid width survive. */
	if (__builtin_popcountll(n & (STASYNC_WITH_SEC_TIME | STASYNC_WITH_USEC_TIME |
				     STASYNC_WITH_NSEC_TIME | STASYNC_WITH_2SEC_TIME)) > 1 ||
	    __builtin_popcountll(n & (STASYNC_WITH_16BIT_UIDS | STASYNC_WITH_32BIT_UIDS)) > 1)
		abort();
}

static void check_name(const char *text)
{
	static char buf[FORMAT_MAX];
	uint64_t f = 0x5a5a;
	int r = stasync_feature_flags_from_name(text, &f);

	if (r < 0) {
		if (r != -EINVAL || f != 0x5a5a)
			abort();
		return;
	}
	if (r != 0 || !f || (f & ~STASYNC_FEATURES_VALID))
		abort();
	stasync_feature_flags_format(f, buf, sizeof(buf));
	if (parse_formatted(buf) != f)
		abort();
	if (!(f & (f - 1)) && strcmp(buf, text) != 0)
		abort();
}

/* "+a -b +c": casync's combination of --with= and --without=. */
static void check_with_without(const char *text)
{
	char *copy = strdup(text), *save = NULL, *w;
	uint64_t with = 0, without = 0, f, flags;

	if (!copy)
		abort();
	for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if ((w[0] != '+' && w[0] != '-') || stasync_feature_flags_from_name(w + 1, &f) < 0 ||
		    (f & ~STASYNC_WITH_ALL)) {
			free(copy);
			return;
		}
		*(w[0] == '+' ? &with : &without) |= f;
	}
	free(copy);
	flags = stasync_feature_flags_normalize(((with ? with : STASYNC_WITH_ALL) & ~without) |
						 STASYNC_EXCLUDE_NODUMP | STASYNC_EXCLUDE_FILE |
						 STASYNC_SHA512_256);
	check_normalize(flags);
	check_format(flags, FORMAT_MAX);
	if (flags & ~STASYNC_FEATURES_VALID)
		abort();
}

static void check_digest(const char *text)
{
	stasync_digest_type t;
	int r = stasync_digest_type_parse(text, &t);
	bool known = !strcmp(text, "sha256") || !strcmp(text, "sha512-256");

	if ((r == 0) != known || (r != 0 && r != -EINVAL))
		abort();
	if (r == 0 && strcmp(stasync_digest_type_name(t), text) != 0)
		abort();
}

static void check_compression(const char *text)
{
	stasync_error err = { 0, "" };
	int r = stasync_compression_parse(text, &err);
	int want = !strcmp(text, "zstd") ? STASYNC_COMPRESSION_ZSTD :
		   !strcmp(text, "xz") ? STASYNC_COMPRESSION_XZ :
		   !strcmp(text, "gzip") ? STASYNC_COMPRESSION_GZIP : -EINVAL;

	if (r != want || (r < 0 && (err.code != r || !err.message[0])))
		abort();
	if (r >= 0 && strcmp(stasync_compression_name((stasync_compression)r), text) != 0)
		abort();
}

static void check_chunk_id(const char *text)
{
	char hex[STASYNC_DIGEST_HEX_SIZE];
	stasync_chunk_id id;
	size_t len = strlen(text);
	bool valid = len == 2 * STASYNC_DIGEST_SIZE;
	int r;

	for (size_t i = 0; valid && i < len; i++)
		valid = isxdigit((unsigned char)text[i]);
	r = stasync_chunk_id_parse(text, &id);
	if ((r == 0) != valid || (r != 0 && r != -EINVAL))
		abort();
	if (r == 0) {
		stasync_chunk_id_format(&id, hex);
		for (size_t i = 0; i < len; i++)
			if (hex[i] != tolower((unsigned char)text[i]))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t n_text = nul ? (size_t)(nul - data) : size;
	char *text = dup_text(data, n_text);

	check_name(text);
	check_with_without(text);
	check_digest(text);
	check_compression(text);
	check_chunk_id(text);
	free(text);

	if (nul && size - n_text - 1 >= 8) {
		const uint8_t *p = nul + 1;
		uint64_t flags = 0;

		for (int i = 7; i >= 0; i--)
			flags = flags << 8 | p[i];
		check_normalize(flags);
		check_format(flags, size - n_text - 1 > 8 ? p[8] : FORMAT_MAX);
	}
	return 0;
}
