/* GOODBYE tables and SipHash-2-4: test vectors, hand-made tables, and a
 * byte-for-byte comparison with every GOODBYE record of archives made by
 * casync (from $CASYNC; those subtests are skipped when it is unset). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "format.h"
#include "goodbye.h"
#include "siphash.h"
#include "util.h"
#include "tap.h"

/* ---- SipHash-2-4 ------------------------------------------------------------ */

static void test_siphash(void)
{
	/* The reference vectors of the SipHash paper: key 00..0f, message
	 * 00 01 02 … of each length. */
	static const struct {
		size_t len;
		uint64_t hash;
	} vectors[] = {
		{ 0,  UINT64_C(0x726fdb47dd0e0e31) },
		{ 1,  UINT64_C(0x74f839c593dc67fd) },
		{ 8,  UINT64_C(0x93f5f5799a932462) },
		{ 15, UINT64_C(0xa129ca6149be45e5) },
		{ 63, UINT64_C(0x958a324ceb064572) },
	};
	uint8_t key[16], msg[64];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	for (size_t i = 0; i < ELEMENTSOF(vectors); i++) {
		uint64_t h = sta_siphash24(msg, vectors[i].len, key);

		tap_ok(h == vectors[i].hash, "siphash24 reference vector, %zu bytes: %016" PRIx64,
		       vectors[i].len, h);
	}
	tap_ok(sta_siphash24(NULL, 0, key) == vectors[0].hash, "siphash24 of (NULL, 0)");

	tap_ok(sta_goodbye_hash("a.txt", 5) == UINT64_C(0x30dbb40a12778187),
	       "goodbye hash of \"a.txt\" is 0x30dbb40a12778187 (got %016" PRIx64 ")",
	       sta_goodbye_hash("a.txt", 5));
	tap_ok(sta_goodbye_hash("a.txtX", 5) == UINT64_C(0x30dbb40a12778187),
	       "goodbye hash reads only len bytes");
}

/* ---- hand-made tables ----------------------------------------------------- */

static uint64_t item_offset(const uint8_t *rec, size_t i)
{
	return le64_get(rec + 16 + 24 * i);
}

static uint64_t item_size(const uint8_t *rec, size_t i)
{
	return le64_get(rec + 16 + 24 * i + 8);
}

static uint64_t item_hash(const uint8_t *rec, size_t i)
{
	return le64_get(rec + 16 + 24 * i + 16);
}

static bool tail_ok(const uint8_t *rec, size_t n, uint64_t goodbye_start, uint64_t entry_start)
{
	const uint8_t *t = rec + 16 + 24 * n;

	return le64_get(rec) == sta_goodbye_size(n) && le64_get(rec + 8) == CA_FORMAT_GOODBYE &&
	       le64_get(t) == goodbye_start - entry_start && le64_get(t + 8) == sta_goodbye_size(n) &&
	       le64_get(t + 16) == CA_FORMAT_GOODBYE_TAIL_MARKER;
}

/* Items with the given hashes, children laid out one after the other
 * (each 100 bytes) after an ENTRY at 1000. */
static void make_items(struct sta_goodbye_item *items, const uint64_t *hashes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		items[i] = (struct sta_goodbye_item){
			.start = 1064 + 100 * i,
			.end = 1064 + 100 * (i + 1),
			.hash = hashes[i],
		};
}

static bool hashes_are(const uint8_t *rec, const uint64_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (item_hash(rec, i) != want[i])
			return false;
	return true;
}

static void test_hand(void)
{
	struct sta_goodbye_item items[8];
	uint8_t rec[16 + 24 * 8 + 24];

	tap_ok(sta_goodbye_size(0) == 40 && sta_goodbye_size(3) == 112, "goodbye sizes");

	/* An empty directory: header and tail only. */
	{
		static const uint8_t want[40] = {
			40, 0, 0, 0, 0, 0, 0, 0,
			0x03, 0xc4, 0x27, 0x83, 0x5e, 0x5c, 0xd3, 0xdf,
			64, 0, 0, 0, 0, 0, 0, 0,
			40, 0, 0, 0, 0, 0, 0, 0,
			0x43, 0x29, 0x70, 0x33, 0xa5, 0x6f, 0x44, 0x57,
		};

		memset(rec, 0xaa, sizeof(rec));
		tap_ok(sta_goodbye_serialize(NULL, 0, 1064, 1000, rec) == 0 &&
			       memcmp(rec, want, sizeof(want)) == 0 && rec[40] == 0xaa,
		       "empty directory: 40 bytes, tail points 64 bytes back");
	}

	/* One child. */
	{
		uint64_t h = 0x1234;

		make_items(items, &h, 1);
		tap_ok(sta_goodbye_serialize(items, 1, 1164, 1000, rec) == 0 &&
			       item_offset(rec, 0) == 100 && item_size(rec, 0) == 100 &&
			       item_hash(rec, 0) == 0x1234 && tail_ok(rec, 1, 1164, 1000),
		       "one child: offset is goodbye - start, size is end - start");
	}

	/* Seven children: a full tree of height 3. */
	{
		static const uint64_t in[7] = { 7, 3, 5, 1, 2, 6, 4 };
		static const uint64_t want[7] = { 4, 2, 6, 1, 3, 5, 7 };
		bool ok = true;

		make_items(items, in, 7);
		ok = sta_goodbye_serialize(items, 7, 1064 + 700, 1000, rec) == 0 &&
		     hashes_are(rec, want, 7) && tail_ok(rec, 7, 1764, 1000);
		/* each item keeps its own offset and size */
		for (size_t i = 0; i < 7; i++) {
			size_t k = 0;

			while (in[k] != want[i])
				k++;
			ok = ok && item_size(rec, i) == 100 && item_offset(rec, i) == 1764 - (1064 + 100 * k);
		}
		tap_ok(ok, "seven children: level order 4 2 6 1 3 5 7");
		/* items now in the order of the record */
		ok = true;
		for (size_t i = 0; i < 7; i++)
			ok = ok && items[i].hash == want[i] && items[i].end - items[i].start == 100 &&
			     items[i].start == 1764 - item_offset(rec, i);
		tap_ok(ok, "items are left in the order of the record");
	}

	/* Six children: the bottom level filled from the left. */
	{
		static const uint64_t in[6] = { 1, 2, 3, 4, 5, 6 };
		static const uint64_t want[6] = { 4, 2, 6, 1, 3, 5 };

		make_items(items, in, 6);
		tap_ok(sta_goodbye_serialize(items, 6, 1664, 1000, rec) == 0 &&
			       hashes_are(rec, want, 6),
		       "six children: level order 4 2 6 1 3 5");
	}

	/* Hashes compared as unsigned 64-bit numbers. */
	{
		static const uint64_t in[3] = { UINT64_C(0xffffffffffffffff), 0, UINT64_C(0x8000000000000000) };
		static const uint64_t want[3] = { UINT64_C(0x8000000000000000), 0,
						  UINT64_C(0xffffffffffffffff) };

		make_items(items, in, 3);
		tap_ok(sta_goodbye_serialize(items, 3, 1364, 1000, rec) == 0 && hashes_are(rec, want, 3),
		       "hashes sort as unsigned numbers");
	}

	/* Equal hashes: the earlier child (smaller start) sorts first, as
	 * casync's name table does. With two items the second sorted one is
	 * the root. */
	{
		static const uint64_t in[2] = { 42, 42 };

		make_items(items, in, 2);
		tap_ok(sta_goodbye_serialize(items, 2, 1264, 1000, rec) == 0 &&
			       item_offset(rec, 0) == 100 && item_offset(rec, 1) == 200,
		       "equal hashes: ordered by start, root is the later child");
	}

	/* Misuse */
	{
		uint64_t h = 1;

		make_items(items, &h, 1);
		tap_ok(sta_goodbye_serialize(items, 1, 1100, 1000, rec) == -EINVAL,
		       "child ending after the goodbye: -EINVAL");
		make_items(items, &h, 1);
		tap_ok(sta_goodbye_serialize(items, 1, 1164, 1100, rec) == -EINVAL,
		       "child before the directory's entry: -EINVAL");
		tap_ok(sta_goodbye_serialize(NULL, 0, 1000, 1000, rec) == -EINVAL,
		       "entry not before the goodbye: -EINVAL");
	}
}

/* Position i of an n-item level-order array holds a search tree: an
 * in-order walk visits the hashes in ascending order, and every level but
 * the last is full (true of any level-order array without gaps). */
static void inorder(const uint8_t *rec, size_t n, size_t i, uint64_t *prev, bool *first, bool *ok)
{
	if (i >= n)
		return;
	inorder(rec, n, 2 * i + 1, prev, first, ok);
	if (!*first && item_hash(rec, i) < *prev)
		*ok = false;
	*prev = item_hash(rec, i);
	*first = false;
	inorder(rec, n, 2 * i + 2, prev, first, ok);
}

static void test_search_tree(void)
{
	const size_t max = 300;
	struct sta_goodbye_item *items = calloc(max, sizeof(*items));
	uint8_t *rec = malloc(sta_goodbye_size(max));
	bool ok = items && rec;
	uint64_t seed = 1;

	for (size_t n = 0; ok && n <= max; n++) {
		uint64_t goodbye = 1064 + 10 * (uint64_t)n, prev = 0;
		bool first = true;

		for (size_t i = 0; i < n; i++) {
			seed = seed * UINT64_C(6364136223846793005) + 1442695040888963407;
			items[i] = (struct sta_goodbye_item){
				.start = 1064 + 10 * i, .end = 1074 + 10 * i, .hash = seed >> 3,
			};
		}
		if (sta_goodbye_serialize(items, n, goodbye, 1000, rec) != 0) {
			ok = false;
			break;
		}
		inorder(rec, n, 0, &prev, &first, &ok);
		/* a search finds every item by its hash */
		for (size_t i = 0; ok && i < n; i++) {
			uint64_t h = items[i].hash;
			size_t j = 0;

			while (j < n && item_hash(rec, j) != h)
				j = h < item_hash(rec, j) ? 2 * j + 1 : 2 * j + 2;
			ok = j < n && goodbye - item_offset(rec, j) == items[i].start;
		}
		if (!ok)
			tap_diag("search tree broken for n=%zu", n);
	}
	tap_ok(ok, "random hashes, 0..%zu children: a search tree that finds every child", max);
	free(items);
	free(rec);
}

/* ---- comparison with casync ------------------------------------------------ */

struct catar {
	const uint8_t *buf;
	uint64_t len;
	unsigned dirs, matched;
	unsigned by_count[64];  /* directories checked, by number of children */
};

static bool record_at(const struct catar *a, uint64_t off, uint64_t *size, uint64_t *type)
{
	if (off > a->len || a->len - off < 16)
		return false;
	*size = le64_get(a->buf + off);
	*type = le64_get(a->buf + off + 8);
	return *size >= 16 && *size <= a->len - off;
}

/* Walk the entry whose ENTRY record is at off; check the GOODBYE of every
 * directory in it; *end is the offset just past the entry. */
static int walk_entry(struct catar *a, uint64_t off, uint64_t *end)
{
	uint64_t size, type, pos, mode;
	struct sta_goodbye_item *items = NULL;
	size_t n = 0, cap = 0;
	int r = -EBADMSG;

	if (!record_at(a, off, &size, &type) || type != CA_FORMAT_ENTRY || size < 64)
		return -EBADMSG;
	mode = le64_get(a->buf + off + 24);
	pos = off + size;

	/* skip metadata (and for a non-directory its payload) */
	while (record_at(a, pos, &size, &type) && type != CA_FORMAT_FILENAME &&
	       type != CA_FORMAT_GOODBYE)
		pos += size;
	if (!S_ISDIR(mode)) {
		*end = pos;
		return 0;
	}

	for (;;) {
		uint64_t child_end;

		if (!record_at(a, pos, &size, &type))
			goto out;
		if (type == CA_FORMAT_GOODBYE)
			break;
		if (type != CA_FORMAT_FILENAME || size < 18)
			goto out;
		if (n == cap) {
			struct sta_goodbye_item *p;

			cap = cap ? 2 * cap : 16;
			p = realloc(items, cap * sizeof(*items));
			if (!p) {
				r = -ENOMEM;
				goto out;
			}
			items = p;
		}
		items[n].start = pos;
		items[n].hash = sta_goodbye_hash((const char *)a->buf + pos + 16,
						 strnlen((const char *)a->buf + pos + 16, size - 16));
		r = walk_entry(a, pos + size, &child_end);
		if (r < 0)
			goto out;
		r = -EBADMSG;
		items[n++].end = child_end;
		pos = child_end;
	}

	{
		uint64_t want = sta_goodbye_size(n);
		uint8_t *mine = malloc(want);

		if (!mine) {
			r = -ENOMEM;
			goto out;
		}
		a->dirs++;
		if (n < ELEMENTSOF(a->by_count))
			a->by_count[n]++;
		if (sta_goodbye_serialize(items, n, pos, off, mine) == 0 && size == want &&
		    memcmp(mine, a->buf + pos, want) == 0)
			a->matched++;
		else
			tap_diag("GOODBYE at %" PRIu64 " (%zu children) differs from ours", pos, n);
		free(mine);
		*end = pos + size;
		r = 0;
	}
out:
	free(items);
	return r;
}

static int write_file(const char *path, size_t len)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	char buf[512];

	if (fd < 0)
		return -errno;
	memset(buf, 'x', sizeof(buf));
	if (len > sizeof(buf))
		len = sizeof(buf);
	return write(fd, buf, len) == (ssize_t)len ? 0 : -EIO;
}

/* The child names: plain, odd bytes, dots, spaces, a newline, UTF-8,
 * bytes ≥ 0x80 that are not UTF-8, and a 255-byte name. */
static const char *const odd_names[] = {
	"a.txt", "-", " ", "a b", "x\ny", ".hidden", "...", "\xc3\xbc\xc3\xb1\xc3\xaf",
	"\xff\xfe", "~", "#", "%s", "A", "0", "Z", "a", "aa", "aaa", "\t", "*", "?", "\\",
	"'", "\"", "$HOME", "name;rm", "[x]",
};

static void child_name(char *buf, size_t sz, unsigned dir, unsigned j)
{
	if (dir == 40 && j == 39) {
		memset(buf, 'L', 255);
		buf[255] = '\0';
	} else if (j < ELEMENTSOF(odd_names))
		snprintf(buf, sz, "%s", odd_names[(j + dir) % ELEMENTSOF(odd_names)]);
	else
		snprintf(buf, sz, "f%u-%s", j, odd_names[j % ELEMENTSOF(odd_names)]);
}

/* tree/nNN holds NN children for NN = 0..40: files of various sizes,
 * empty and non-empty subdirectories, symlinks and FIFOs (the last two
 * only appear in the archive when their features are on). */
static int make_tree(const char *root, unsigned *n_dirs)
{
	char path[4096 + 512], name[256];
	int r;

	if (mkdir(root, 0755) < 0)
		return -errno;
	*n_dirs = 1;
	for (unsigned d = 0; d <= 40; d++) {
		snprintf(path, sizeof(path), "%s/n%02u", root, d);
		if (mkdir(path, 0755) < 0)
			return -errno;
		(*n_dirs)++;
		for (unsigned j = 0; j < d; j++) {
			child_name(name, sizeof(name), d, j);
			snprintf(path, sizeof(path), "%s/n%02u/%s", root, d, name);
			switch (j % 7) {
			case 3:
				if (mkdir(path, 0755) < 0)
					return -errno;
				(*n_dirs)++;
				if (j % 2) {
					/* a non-empty subdirectory with a grandchild directory */
					char sub[sizeof(path) + 8];

					snprintf(sub, sizeof(sub), "%s/f", path);
					if ((r = write_file(sub, j)) < 0)
						return r;
					snprintf(sub, sizeof(sub), "%s/g", path);
					if (mkdir(sub, 0755) < 0)
						return -errno;
					(*n_dirs)++;
				}
				break;
			case 5:
				if (symlink("target", path) < 0)
					return -errno;
				break;
			case 6:
				if (mkfifo(path, 0644) < 0)
					return -errno;
				break;
			default:
				if ((r = write_file(path, (size_t)j * 13)) < 0)
					return r;
			}
		}
	}
	return 0;
}

static int run_casync(const char *casync, const char *flags, const char *out, const char *dir)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* casync prints the archive digest: keep it off the TAP stream */
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		if (flags)
			execlp(casync, casync, "make", flags, out, dir, (char *)NULL);
		else
			execlp(casync, casync, "make", out, dir, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static uint8_t *read_all(const char *path, uint64_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t *buf;

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return NULL;
	for (off_t done = 0; done < st.st_size;) {
		ssize_t k = read(fd, buf + done, (size_t)(st.st_size - done));

		if (k <= 0) {
			free(buf);
			return NULL;
		}
		done += k;
	}
	*len = (uint64_t)st.st_size;
	return buf;
}

static void test_casync(void)
{
	static const char *const flag_sets[] = { "--without=all", NULL, "--with=unix" };
	const char *casync = getenv("CASYNC");
	char tree[4096], out[4096];
	unsigned n_dirs = 0;
	int r;

	if (!casync || !*casync) {
		for (size_t i = 0; i < ELEMENTSOF(flag_sets); i++)
			tap_ok(true, "# SKIP casync comparison (CASYNC is not set)");
		return;
	}

	snprintf(tree, sizeof(tree), "%s/tree", tap_tmpdir());
	r = make_tree(tree, &n_dirs);
	if (!tap_ok(r == 0, "made %u directories, with 0..40 children", n_dirs))
		return;

	for (size_t i = 0; i < ELEMENTSOF(flag_sets); i++) {
		const char *flags = flag_sets[i] ? flag_sets[i] : "(default flags)";
		struct catar a = { 0 };
		uint64_t end = 0, len = 0;
		uint8_t *buf;
		bool all_counts = true;

		snprintf(out, sizeof(out), "%s/tree%zu.catar", tap_tmpdir(), i);
		if (run_casync(casync, flag_sets[i], out, tree) < 0) {
			tap_ok(false, "casync make %s", flags);
			continue;
		}
		buf = read_all(out, &len);
		if (!buf) {
			tap_ok(false, "read %s", out);
			continue;
		}
		a.buf = buf;
		a.len = len;
		r = walk_entry(&a, 0, &end);
		/* symlinks and FIFOs are left out without their features, so
		 * only the default flags see every count 0..40 */
		if (!flag_sets[i])
			for (unsigned n = 0; n <= 40; n++)
				all_counts = all_counts && a.by_count[n] > 0;
		tap_ok(r == 0 && end == len && all_counts && a.dirs == n_dirs && a.matched == a.dirs,
		       "casync make %s: %u of %u GOODBYE records equal ours (%" PRIu64 " bytes)",
		       flags, a.matched, a.dirs, len);
		free(buf);
	}
}

int main(void)
{
	test_siphash();
	test_hand();
	test_search_tree();
	test_casync();
	return tap_done();
}
