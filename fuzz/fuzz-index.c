/* fuzz-index — the .caibx/.caidx reader on arbitrary bytes.
 *
 * The input is handed to stasync_index_parse_header() as it is, then put
 * into a memory file (a temporary file where memfd_create() is missing)
 * and read with stasync_index_reader_open() and _next() until the end or
 * an error. Nothing may crash or leak, and the reader must keep its
 * promises: items are contiguous, never larger than the header's max, a
 * clean end only at exactly the bytes of a well-formed index, and every
 * failure comes with a message. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <stasync/index.h>

#include "fuzz-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADERS_SIZE 64
#define ITEM_SIZE 40
#define TAIL_SIZE 40

static void check_error(int r, const stasync_error *err)
{
	/* A memory file never fails to read: every refusal is about the bytes. */
	if (r != -EBADMSG || err->code != r || !err->message[0] ||
	    !strstr(err->message, "fuzz-input"))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stasync_index_header h, h2;
	stasync_index_reader *r = NULL;
	stasync_index_item item;
	stasync_error err = { 0, "" };
	uint64_t expect_offset = 0, n_items = 0;
	int parsed, k;

	parsed = stasync_index_parse_header(data, size, &h, &err);
	if (parsed < 0 && (parsed != -EBADMSG || !err.message[0]))
		abort();
	if (parsed == 0 && (h.chunk_size_min < 1 || h.chunk_size_min > h.chunk_size_avg ||
			    h.chunk_size_avg > h.chunk_size_max ||
			    h.chunk_size_max > UINT64_C(128) * 1024 * 1024))
		abort();

	stasync_error_clear(&err);
	k = stasync_index_reader_open(fuzz_input_fd("fuzz-index", data, size), "fuzz-input", &r, &err);
	if (k < 0) {
		check_error(k, &err);
		/* The reader and the memory parser agree on headers. */
		if (parsed == 0)
			abort();
		return 0;
	}
	if (parsed != 0)
		abort();
	h2 = *stasync_index_reader_header(r);
	if (memcmp(&h, &h2, sizeof(h)) != 0)
		abort();
	(void)stasync_index_reader_digest_type(r);

	while ((k = stasync_index_reader_next(r, &item, &err)) == 1) {
		if (item.offset != expect_offset || item.size == 0 ||
		    item.size > h.chunk_size_max)
			abort();
		expect_offset += item.size;
		n_items++;
	}
	if (k < 0)
		check_error(k, &err);
	else if (k == 0) {
		/* A clean end: the input was exactly headers, items and tail. */
		if (size != HEADERS_SIZE + n_items * ITEM_SIZE + TAIL_SIZE)
			abort();
		if (stasync_index_reader_next(r, &item, &err) != 0)
			abort();
	} else
		abort();
	stasync_index_reader_free(r);
	return 0;
}
