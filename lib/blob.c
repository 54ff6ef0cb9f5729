/* Blobs: a file or block device as one chunked stream. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <stasync/blob.h>
#include <stasync/index.h>
#include "format.h"
#include "linux.h"
#include "util.h"

#define READ_SIZE ((size_t)4 << 20)

int stasync_blob_make(int in_fd, const char *input, int index_fd, const char *index_name,
		      const stasync_blob_make_options *o, stasync_chunk_id *content,
		      stasync_chunk_stats *stats, stasync_error *err)
{
	stasync_chunk_writer_options wo = {
		.sizes = o->sizes,
		.digest = o->digest,
		.feature_flags = o->feature_flags ? o->feature_flags
				 : CA_FORMAT_BLOB_INDEX_FLAGS |
				   (o->digest == STASYNC_DIGEST_SHA512_256 ? CA_FORMAT_SHA512_256 : 0),
		.store = o->store,
		.progress = o->progress,
	};
	stasync_chunk_writer *w = NULL;
	_cleanup_free_ uint8_t *buf = malloc(READ_SIZE);
	int r;

	if (!buf)
		return sta_error(err, -ENOMEM, "out of memory");
	r = stasync_chunk_writer_new(&wo, index_fd, index_name, &w, err);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t k = sta_read_full(in_fd, buf, READ_SIZE);
		if (k < 0) {
			r = sta_error(err, (int)k, "%s: cannot read: %s", input,
				      stasync_strerror((int)k));
			break;
		}
		if (k == 0) {
			r = stasync_chunk_writer_finish(w, content, stats, err);
			break;
		}
		r = stasync_chunk_writer_write(w, buf, (size_t)k, err);
		if (r < 0)
			break;
	}
	stasync_chunk_writer_free(w);
	return r;
}

/* Share [off, off + n) of out_fd with the same bytes at src_off of src_fd,
 * as far as whole blocks allow: the bytes before the first and after the
 * last block boundary are written. 1 when blocks were shared, 0 when none
 * could be (alignment, or the file system cannot: then *can goes false),
 * else -errno. */
static int clone_range(int out_fd, const uint8_t *p, size_t n, uint64_t off, int src_fd,
		       uint64_t src_off, bool *can, uint64_t *cloned)
{
	struct sta_file_clone_range fcr;
	uint64_t start = (off + STA_HOLE_BLOCK - 1) / STA_HOLE_BLOCK * STA_HOLE_BLOCK;
	uint64_t end = (off + n) / STA_HOLE_BLOCK * STA_HOLE_BLOCK;
	int r;

	/* the same place within a block on both sides, and a whole block */
	if ((src_off - off) % STA_HOLE_BLOCK || end <= start)
		return 0;
	fcr = (struct sta_file_clone_range){ .src_fd = src_fd,
					     .src_offset = src_off + (start - off),
					     .src_length = end - start,
					     .dest_offset = start };
	if (ioctl(out_fd, STA_FICLONERANGE, &fcr) < 0) {
		*can = false;
		return 0;
	}
	if ((r = sta_pwrite_full(out_fd, p, (size_t)(start - off), off)) < 0 ||
	    (r = sta_pwrite_full(out_fd, p + (end - off), (size_t)(off + n - end), end)) < 0)
		return r;
	*cloned += end - start;
	return 1;
}

/* The output, read back for the chunks the index names again (see
 * stasync_chunk_reader_new_reread): a file or block device reopened for
 * reading, and where the stream starts in it; -1 for a pipe, or when it
 * cannot be reopened. */
static int reread_open(int out_fd, unsigned flags, uint64_t *base)
{
	char proc[32];
	struct stat st;
	off_t pos = 0;
	int fl;

	if (out_fd < 0 || fstat(out_fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
		return -1;
	/* placed by offset, or written in order from where the descriptor
	 * stands (the end, when appending) */
	if (!(flags & (STASYNC_BLOB_HOLES | STASYNC_BLOB_REFLINK | STASYNC_BLOB_IN_PLACE))) {
		if ((fl = fcntl(out_fd, F_GETFL)) < 0)
			return -1;
		pos = fl & O_APPEND ? st.st_size : lseek(out_fd, 0, SEEK_CUR);
		if (pos < 0)
			return -1;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", out_fd);
	*base = (uint64_t)pos;
	return open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
}

static int digest_chunk(void *ctx, const void *p, size_t n, stasync_error *err)
{
	(void)err;
	if (ctx)
		stasync_digest_write(ctx, p, n);
	return 0;
}

int stasync_blob_extract(stasync_index_reader *r, const stasync_fetch *f, int out_fd,
			 const char *output, unsigned flags, stasync_digest_type content_type,
			 stasync_chunk_id *content, stasync_chunk_stats *stats, stasync_error *err)
{
	stasync_chunk_reader *cr = NULL;
	stasync_digest *digest = NULL;
	const void *p;
	size_t n;
	uint64_t off = 0, in_place = 0, cloned = 0, src_off;
	bool hole_at_end = false, can_clone = (flags & STASYNC_BLOB_REFLINK) != 0;
	int src_fd;
	_cleanup_free_ uint8_t *old = NULL;
	uint64_t base = 0;
	int reread_fd = -1;
	int e;

	if (content && (e = stasync_digest_new(content_type, &digest)) < 0)
		return sta_error(err, e, "cannot set up: %s", stasync_strerror(e));
	if (out_fd < 0) {
		/* Nothing written: the stream's digest is taken on the
		 * fetching threads, chunk by chunk as each comes in order. */
		e = stasync_chunk_reader_drain(r, f, digest_chunk, digest, stats, err);
		if (e == 0 && digest)
			stasync_digest_final(digest, content);
		goto out;
	}
	reread_fd = reread_open(out_fd, flags, &base);
	e = stasync_chunk_reader_new_reread(r, f, reread_fd, base, &cr, err);
	if (e < 0)
		goto out;
	while ((e = stasync_chunk_reader_next(cr, &p, &n, err)) > 0) {
		if (flags & STASYNC_BLOB_IN_PLACE) {
			/* the place holds this chunk already: leave it */
			if (!old && !(old = malloc(stasync_index_reader_header(r)->chunk_size_max))) {
				e = sta_error(err, -ENOMEM, "out of memory");
				goto out;
			}
			if (n <= stasync_index_reader_header(r)->chunk_size_max &&
			    pread(out_fd, old, n, (off_t)off) == (ssize_t)n && memcmp(old, p, n) == 0) {
				in_place++;
				e = 0;
			} else
				e = sta_pwrite_full(out_fd, p, n, off);
			off += n;
		} else {
			e = 0;
			if (can_clone && stasync_chunk_reader_origin(cr, &src_fd, &src_off))
				e = clone_range(out_fd, p, n, off, src_fd, src_off, &can_clone, &cloned);
			/* clones and holes place their bytes by offset; a pipe
			 * (neither) is written in order */
			if (e == 0 && (flags & STASYNC_BLOB_HOLES))
				e = sta_pwrite_holes(out_fd, p, n, off, &hole_at_end);
			else if (e == 0 && (flags & STASYNC_BLOB_REFLINK))
				e = sta_pwrite_full(out_fd, p, n, off);
			else if (e == 0)
				e = sta_write_full(out_fd, p, n);
			else if (e > 0) {
				e = 0;
				hole_at_end = false;
			}
			off += n;
			if (e < 0) {
				e = sta_error(err, e, "%s: cannot write: %s", output,
					      stasync_strerror(e));
				goto out;
			}
		}
		if (digest)
			stasync_digest_write(digest, p, n);
	}
	if (e < 0)
		goto out;
	if (hole_at_end && ftruncate(out_fd, (off_t)off) < 0) {
		e = sta_error(err, -errno, "%s: cannot set the size: %s", output, strerror(errno));
		goto out;
	}
	if (digest)
		stasync_digest_final(digest, content);
	if (stats) {
		stasync_chunk_reader_stats(cr, stats);
		stats->chunks_in_place = in_place;
		stats->bytes_cloned = cloned;
	}
out:
	stasync_digest_free(digest);
	stasync_chunk_reader_free(cr);
	if (reread_fd >= 0)
		close(reread_fd);
	return e;
}

int stasync_blob_digest(int fd, const char *input, stasync_digest_type type,
			stasync_chunk_id *ret, stasync_error *err)
{
	_cleanup_free_ uint8_t *buf = malloc(READ_SIZE);
	stasync_digest *d = NULL;
	int r;

	if (!buf)
		return sta_error(err, -ENOMEM, "out of memory");
	r = stasync_digest_new(type, &d);
	if (r < 0)
		return sta_error(err, r, "cannot set up digest: %s", stasync_strerror(r));
	for (;;) {
		ssize_t k = sta_read_full(fd, buf, READ_SIZE);
		if (k < 0) {
			r = sta_error(err, (int)k, "%s: cannot read: %s", input, stasync_strerror((int)k));
			break;
		}
		if (k == 0) {
			stasync_digest_final(d, ret);
			break;
		}
		stasync_digest_write(d, buf, (size_t)k);
	}
	stasync_digest_free(d);
	return r;
}

int stasync_blob_matches(stasync_index_reader *r, int fd, const char *output, stasync_error *err)
{
	stasync_digest_type type = stasync_index_reader_digest_type(r);
	const stasync_index_header *h = stasync_index_reader_header(r);
	_cleanup_free_ uint8_t *buf = NULL;
	stasync_index_item item;
	stasync_chunk_id id;
	uint64_t end = 0;
	struct stat st;
	int k;

	if (fstat(fd, &st) < 0) {
		int e = -errno;
		return sta_error(err, e, "%s: cannot stat: %s", output, stasync_strerror(e));
	}
	if (h->chunk_size_max == 0 || h->chunk_size_max > ((uint64_t)1 << 30))
		return sta_error(err, -EBADMSG, "bad maximal chunk size in the index");
	buf = malloc((size_t)h->chunk_size_max);
	if (!buf)
		return sta_error(err, -ENOMEM, "out of memory");
	/* sequential reads; the index's own digest decides, as on extract */
	while ((k = stasync_index_reader_next(r, &item, err)) > 0) {
		ssize_t n;

		if (item.size > h->chunk_size_max)
			return sta_error(err, -EBADMSG, "chunk larger than the index's maximum");
		n = sta_read_full(fd, buf, (size_t)item.size);
		if (n < 0)
			return sta_error(err, (int)n, "%s: cannot read: %s", output,
					 stasync_strerror((int)n));
		if ((uint64_t)n != item.size)
			return 0;    /* shorter than the blob */
		stasync_digest_buffer(type, buf, (size_t)n, &id);
		if (!stasync_chunk_id_equal(&id, &item.id))
			return 0;
		end = item.offset + item.size;
	}
	if (k < 0)
		return k;
	/* a regular file is cut to the blob's size on extract: a longer one
	 * differs; a device keeps what lies past the blob */
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size != end)
		return 0;
	return 1;
}
