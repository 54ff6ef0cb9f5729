#!/usr/bin/env python3
"""make-corpus.py — regenerate the seed corpora in fuzz/corpus/.

    fuzz/make-corpus.py [BUILDDIR]

Needs Debian's casync (the index and chunk seeds are what it writes), the
zstd command line tool and BUILDDIR/tests/unit/gen-testdata (BUILDDIR
defaults to the source tree; run `make check` once to build it). The
inputs come from gen-testdata, so the output is the same on every run.
Every file stays below 8 KB. libFuzzer adds what it finds to these
directories too: run this script only to start afresh.

Seed formats, as the harnesses read them:
  fuzz-index       the index file's bytes
  fuzz-chunk       mode byte, declared size (24-bit little-endian), chunk bytes
                   (mode bit 0 compressed, bit 1 SHA-256, bit 2 round trip)
  fuzz-chunk-size  the --chunk-size text, optionally NUL and seed bytes
  fuzz-remote      mode byte (even: frames; 1: a "pull", 3: a "push"
                   conversation), then the frames of casync's remote protocol
                   a peer sends

  fuzz-goodbye     mode byte, entry and goodbye offsets, 24 bytes per child
  fuzz-options     an option value, optionally NUL, raw flags and a buffer size
  fuzz-locator     a store or index locator
  fuzz-roundtrip   a tree description (see fuzz-roundtrip.c)
  fuzz-s3-xml      an S3 answer's XML (listing, error body, DeleteObjects result)

fuzz-catar's seeds (small archives made by Debian's `casync make` with the
default features, --with=unix, --without=all, --with=best and
--with=2sec-time --with=read-only --with=symlinks) are kept as they are;
fuzz-catar-tree starts from the same archives.
"""
import glob
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else SRC
GEN = os.path.join(BUILD, "tests", "unit", "gen-testdata")
CORPUS = os.path.join(SRC, "fuzz", "corpus")
LIMIT = 8192

TAIL_MARKER = 0x4B4F050E5549ECD1


def run(*args, **kw):
    return subprocess.run(args, check=True, stdout=subprocess.PIPE, **kw).stdout


def gen(kind, seed, size):
    return run(GEN, kind, str(seed), str(size))


def save(harness, name, data):
    if len(data) >= LIMIT:
        sys.exit(f"{harness}/{name}: {len(data)} bytes, over the {LIMIT}-byte limit")
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def put64(b, at, v):
    b[at:at + 8] = struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


def casync_make(tmp, name, data, *opts):
    """Run `casync make` on data; returns (index bytes, store path)."""
    src = os.path.join(tmp, name + ".in")
    with open(src, "wb") as f:
        f.write(data)
    store = os.path.join(tmp, name + ".castr")
    index = os.path.join(tmp, name + ".caibx")
    run("casync", "make", "--store=" + store, *opts, index, src)
    with open(index, "rb") as f:
        return f.read(), store


def chunk_files(store):
    return sorted(glob.glob(os.path.join(store, "*", "*.cacnk")))


def index_seeds(tmp):
    h = "fuzz-index"
    small, _ = casync_make(tmp, "1k", gen("random", 1, 64 * 1024), "--chunk-size=1K")
    save(h, "casync-blob-1k.caibx", small)
    idx, _ = casync_make(tmp, "sha256", gen("mixed", 2, 48 * 1024), "--digest=sha256",
                         "--chunk-size=512")
    save(h, "casync-blob-sha256.caibx", idx)
    idx, _ = casync_make(tmp, "fixed", gen("random", 4, 4096), "--chunk-size=256:256:256")
    save(h, "casync-blob-fixed.caibx", idx)
    idx, _ = casync_make(tmp, "64", gen("random", 4, 4096), "--chunk-size=64")
    save(h, "casync-blob-64.caibx", idx)
    idx, _ = casync_make(tmp, "empty", b"")
    save(h, "casync-blob-empty.caibx", idx)
    tiny, _ = casync_make(tmp, "tiny", gen("random", 3, 100))
    save(h, "casync-blob-tiny.caibx", tiny)

    # An archive index: a small tree with fixed times.
    d = os.path.join(tmp, "tree")
    os.makedirs(os.path.join(d, "sub"))
    with open(os.path.join(d, "a.txt"), "wb") as f:
        f.write(b"hello\n")
    with open(os.path.join(d, "sub", "b.bin"), "wb") as f:
        f.write(gen("random", 5, 3072))
    os.symlink("a.txt", os.path.join(d, "link"))
    for p in ("a.txt", "sub/b.bin", "link", "sub", "."):
        os.utime(os.path.join(d, p), (1600000000, 1600000000), follow_symlinks=False)
    caidx = os.path.join(tmp, "tree.caidx")
    run("casync", "make", "--store=" + os.path.join(tmp, "tree.castr"), "--with=unix",
        "--chunk-size=1K", caidx, d)
    with open(caidx, "rb") as f:
        save(h, "casync-dir.caidx", f.read())

    # Corrupt variants of a 6-chunk index (the first 6 items of `small`).
    n = 6
    base = bytearray(small[:64 + 40 * n])
    base += struct.pack("<QQQQQ", 0, 0, 48, 16 + 40 * n + 40, TAIL_MARKER)
    tail = 64 + 40 * n
    save(h, "six-items.caibx", bytes(base))

    def variant(name, edit):
        b = bytearray(base)
        b = edit(b) or b
        save(h, name, bytes(b))

    variant("bad-trunc-header.caibx", lambda b: b[:30])
    variant("bad-trunc-table.caibx", lambda b: b[:63])
    variant("bad-trunc-item.caibx", lambda b: b[:64 + 40 * 2 + 17])
    variant("bad-no-tail.caibx", lambda b: b[:tail])
    variant("bad-trunc-tail.caibx", lambda b: b[:-1])
    variant("bad-trailing.caibx", lambda b: b + b"\0")
    variant("bad-magic.caibx", lambda b: put64(b, 8, 0x96824D9C7B129FF8))
    variant("bad-table-header.caibx", lambda b: put64(b, 48, 0))
    variant("bad-flags.caibx", lambda b: put64(b, 16, 0xB000000200000000))
    variant("bad-min-gt-avg.caibx", lambda b: put64(b, 24, 2048))
    variant("bad-max-too-big.caibx", lambda b: put64(b, 40, 128 * 1024 * 1024 + 1))
    variant("bad-min-zero.caibx", lambda b: put64(b, 24, 0))
    first_end = struct.unpack_from("<Q", base, 64)[0]
    variant("bad-offset-equal.caibx", lambda b: put64(b, 64 + 40, first_end))
    variant("bad-offset-decreasing.caibx", lambda b: put64(b, 64 + 40, first_end - 1))
    variant("bad-chunk-too-big.caibx", lambda b: put64(b, 64, 4097))
    variant("bad-tail-size.caibx", lambda b: put64(b, tail + 24, 16 + 40 * 5 + 40))
    variant("bad-tail-marker.caibx", lambda b: put64(b, tail + 32, TAIL_MARKER ^ 1))
    variant("bad-tail-offset.caibx", lambda b: put64(b, tail + 16, 64))


def chunk_seed(mode, size, data):
    return bytes([mode]) + struct.pack("<I", size)[:3] + data


def zstd(data, *opts):
    return run("zstd", "-q", "-c", *opts, input=data)


def xz(data, *opts):
    return run("xz", "-c", "--check=crc64", *opts, input=data)


def gz(data):
    return run("gzip", "-c", "-n", input=data)


def chunk_seeds(tmp):
    h = "fuzz-chunk"
    # Chunks as casync stores them (zstd, xz and gzip).
    # The declared size is the chunk's real size.
    for label, kind, seed, opts, mode in (
            ("zstd", "random", 11, [], 0x01),
            ("zstd-mixed", "mixed", 12, [], 0x01),
            ("zstd-sha256", "mixed", 13, ["--digest=sha256"], 0x03),
            ("xz", "mixed", 14, ["--compression=xz"], 0x01),
            ("gzip", "mixed", 15, ["--compression=gzip"], 0x01)):
        content = gen(kind, seed, 12 * 1024)
        idx, store = casync_make(tmp, "chunk-" + label, content, "--chunk-size=1K", *opts)
        saved = 0
        prev = 0
        items = {}
        for i in range((len(idx) - 104) // 40):
            end = struct.unpack_from("<Q", idx, 64 + 40 * i)[0]
            items[idx[72 + 40 * i:104 + 40 * i].hex()] = end - prev
            prev = end
        for path in chunk_files(store):
            cid = os.path.basename(path)[:64]
            with open(path, "rb") as f:
                stored = f.read()
            if len(stored) + 4 >= LIMIT:
                continue
            save(h, f"casync-{label}-{saved}", chunk_seed(mode, items[cid], stored))
            saved += 1
            if saved == 3:
                break

    text = gen("mixed", 16, 2000)
    z = zstd(text)
    save(h, "raw", chunk_seed(0x00, len(text), text))
    save(h, "raw-sha256", chunk_seed(0x02, len(text), text))
    save(h, "raw-empty", chunk_seed(0x00, 0, b""))
    save(h, "raw-wrong-size", chunk_seed(0x00, len(text) - 1, text))
    save(h, "zstd-content-size", chunk_seed(0x01, len(text), z))
    save(h, "zstd-stream", chunk_seed(0x01, len(text), zstd(text, "--no-check")))
    save(h, "zstd-too-small", chunk_seed(0x01, len(text) - 1, z))
    save(h, "zstd-too-large", chunk_seed(0x01, len(text) + 1, z))
    save(h, "zstd-truncated", chunk_seed(0x01, len(text), z[:len(z) // 2]))
    save(h, "zstd-empty", chunk_seed(0x01, 0, zstd(b"")))
    save(h, "zstd-two-frames", chunk_seed(0x01, len(text), zstd(text[:700]) + zstd(text[700:])))
    skippable = struct.pack("<II", 0x184D2A50, 5) + b"skip!"
    save(h, "zstd-skippable", chunk_seed(0x01, len(text), skippable + z))
    save(h, "zstd-trailing", chunk_seed(0x01, len(text), z + b"\0\0\0\0"))
    save(h, "zstd-magic-only", chunk_seed(0x01, 100, b"\x28\xb5\x2f\xfd"))
    save(h, "bomb", chunk_seed(0x01, 4096, zstd(bytes(1 << 20), "-19")))
    save(h, "xz-magic", chunk_seed(0x01, 10, b"\xfd\x37\x7a\x58\x5a\x00" + bytes(10)))
    save(h, "gzip-magic", chunk_seed(0x01, 10, b"\x1f\x8b" + bytes(10)))
    x = xz(text)
    g = gz(text)
    for name, packed in (("xz", x), ("gzip", g)):
        save(h, f"{name}-too-small", chunk_seed(0x01, len(text) - 1, packed))
        save(h, f"{name}-too-large", chunk_seed(0x01, len(text) + 1, packed))
        save(h, f"{name}-truncated", chunk_seed(0x01, len(text), packed[:len(packed) // 2]))
        save(h, f"{name}-trailing", chunk_seed(0x01, len(text), packed + b"\0\0\0\0"))
    save(h, "xz-two-streams", chunk_seed(0x01, len(text), xz(text[:700]) + xz(text[700:])))
    save(h, "gzip-two-members", chunk_seed(0x01, len(text), gz(text[:700]) + gz(text[700:])))
    save(h, "xz-empty", chunk_seed(0x01, 0, xz(b"")))
    save(h, "gzip-empty", chunk_seed(0x01, 0, gz(b"")))
    save(h, "xz-bomb", chunk_seed(0x01, 4096, xz(bytes(1 << 20))))
    save(h, "gzip-bomb", chunk_seed(0x01, 4096, gz(bytes(1 << 20))))
    save(h, "xz-check-none", chunk_seed(0x01, len(text), xz(text, "--check=none")))
    save(h, "xz-check-sha256", chunk_seed(0x01, len(text), xz(text, "--check=sha256")))
    save(h, "round-trip-xz", chunk_seed(0x04 | 0x40, 0, text))
    save(h, "round-trip-gzip", chunk_seed(0x04 | 0x80 | 5 << 3, 0, text))
    save(h, "not-compressed", chunk_seed(0x01, len(text), text))
    save(h, "round-trip", chunk_seed(0x04 | 2 << 3, 0, text))
    save(h, "round-trip-sha256", chunk_seed(0x06, 0, gen("random", 17, 3000)))
    save(h, "round-trip-empty", chunk_seed(0x04, 0, b""))


def chunk_size_seeds():
    h = "fuzz-chunk-size"
    for i, text in enumerate((
            b"auto", b"64K", b"1K", b"16K:64K:256K", b"1:2:3", b"1:1:1", b"48", b"64",
            b"64B", b"777:3333:12345", b"4096:4096:4096", b"47:47:47", b"16:64:48",
            b"1:1:128M", b"100M", b"1024:2048:1G", b"0", b"abc", b"", b"1K\0\x01\x02\x03",
            b"16:64:256\0seed", b"8K:8K:8K\0\xff")):
        save(h, f"seed-{i:02d}", text)
    # Inputs fuzzing found problems with (kept so `make check` re-checks them).
    # avg > ~9.3 MB makes casync's discriminator formula negative: converting
    # it to size_t is undefined behaviour (UBSan: float-cast-overflow).
    for name, text in (("crash-discriminator-100M", b"100M"),
                       ("crash-discriminator-10M", b"1M:10M:16M")):
        save(h, name, text)


# casync's remote protocol: message types and hello features.
HELLO, INDEX, INDEX_EOF = 0x3C71D0948CA5FBEE, 0xB32A91DD2B3E27F8, 0x4F0932F1043718F5
ARCHIVE, ARCHIVE_EOF = 0x95D6428A69EDDCC5, 0x450BEF663F24CBAD
REQUEST, CHUNK, MISSING = 0x8AB427E0F89D9210, 0x5213DD180A84BC8C, 0xD010F9FAC82B7B6C
GOODBYE, ABORT = 0xAD205DBF1A3686C3, 0xE7D9136B7EFEA352
PULL_CHUNKS, PULL_INDEX, READABLE_STORE = 0x40, 0x80, 0x1
PUSH_ALL = 0xE00  # push index, chunks, and the chunks of the index


def frame(kind, body=b""):
    return struct.pack("<QQ", 16 + len(body), kind) + body


def remote_seeds(tmp):
    h = "fuzz-remote"
    text = gen("mixed", 31, 2000)
    idx, store = casync_make(tmp, "remote", text, "--chunk-size=64:256:1024")
    ids = [bytes([i]) * 32 for i in range(1, 4)]
    hello = lambda f: frame(HELLO, struct.pack("<Q", f))
    request = lambda flags, *i: frame(REQUEST, struct.pack("<Q", flags) + b"".join(i))
    chunk = frame(CHUNK, struct.pack("<Q", 1) + ids[0] + zstd(text[:500]))
    abort = frame(ABORT, struct.pack("<Q", 5) + b"disk on fire\0")
    every = (hello(PULL_CHUNKS | PULL_INDEX) + frame(INDEX, idx) + frame(INDEX_EOF) +
             frame(ARCHIVE, text[:100]) + frame(ARCHIVE_EOF) + request(1, ids[0]) +
             request(0, *ids) + chunk + frame(MISSING, ids[1]) + frame(GOODBYE) + abort)
    save(h, "frames-every-type", b"\0" + every)
    save(h, "frames-server-pull", b"\0" + hello(READABLE_STORE | 0x4) + frame(INDEX, idx) +
         frame(INDEX_EOF) + chunk + frame(MISSING, ids[2]))
    save(h, "frames-size-15", b"\0" + struct.pack("<QQ", 15, HELLO))
    save(h, "frames-size-huge", b"\0" + struct.pack("<QQ", 1 << 63, CHUNK))
    save(h, "frames-unknown-type", b"\0" + frame(0x1234, b"x"))
    save(h, "frames-cut", b"\0" + hello(PULL_CHUNKS) + chunk[:-3])
    save(h, "frames-hello-zero", b"\0" + hello(0) + hello(1 << 13))
    save(h, "frames-request-odd", b"\0" + frame(REQUEST, bytes(8) + bytes(33)))
    save(h, "frames-abort-bad", b"\0" + frame(ABORT, bytes(8) + b"a\nb\0") +
         frame(ABORT, struct.pack("<Q", 1 << 31) + b"x\0") + frame(ABORT, bytes(8) + b"no nul"))
    save(h, "pull-requests", b"\1" + hello(PULL_CHUNKS) + request(1, ids[0]) +
         request(0, *ids) + frame(GOODBYE))
    save(h, "pull-no-goodbye", b"\1" + hello(PULL_CHUNKS) + request(1, ids[2]))
    save(h, "pull-index-not-offered", b"\1" + hello(PULL_INDEX | PULL_CHUNKS))
    save(h, "pull-garbage", b"\1" + hello(PULL_CHUNKS) + b"garbage, not a frame")
    save(h, "pull-abort", b"\1" + hello(PULL_CHUNKS) + abort)
    save(h, "pull-request-first", b"\1" + request(1, ids[0]) + hello(PULL_CHUNKS))
    save(h, "pull-push-hello", b"\1" + hello(0xe00) + frame(INDEX, idx) + frame(INDEX_EOF))
    save(h, "pull-empty", b"\1")
    # A push: the index, then each chunk of casync's store as it is asked for.
    chunks = b""
    for path in chunk_files(store):
        cid = bytes.fromhex(os.path.basename(path).split(".")[0])
        with open(path, "rb") as f:
            chunks += frame(CHUNK, struct.pack("<Q", 1) + cid + f.read())
    push = hello(PUSH_ALL) + frame(INDEX, idx) + frame(INDEX_EOF)
    save(h, "push-blob", b"\3" + push + chunks)
    save(h, "push-blob-no-chunks", b"\3" + push)
    save(h, "push-blob-missing", b"\3" + push + frame(MISSING, ids[0]))
    save(h, "push-blob-wrong-chunk", b"\3" + push +
         frame(CHUNK, struct.pack("<Q", 1) + chunks[24:56] + zstd(text[:300])))
    save(h, "push-bad-index", b"\3" + hello(PUSH_ALL) + frame(INDEX, idx[:100]) + frame(INDEX_EOF))
    save(h, "push-index-only", b"\3" + hello(0x400) + frame(INDEX, idx) + frame(INDEX_EOF))


def goodbye_seed(mode, entry, goodbye, items):
    return bytes([mode]) + struct.pack("<QQ", entry, goodbye) + b"".join(
        struct.pack("<QQQ", *it) for it in items)


def goodbye_seeds():
    h = "fuzz-goodbye"
    # Mode bit 0: children placed inside; bits 1-2: hashes as given, four
    # values only, SipHash of the child's bytes.
    save(h, "inside-none", goodbye_seed(1, 1000, 0, []))
    save(h, "inside-three", goodbye_seed(1, 64, 8, [(0, 10, 7), (20, 5, 3), (40, 1, 9)]))
    save(h, "inside-collisions", goodbye_seed(3, 0, 0, [(i * 7, 3, i) for i in range(16)]))
    save(h, "inside-siphash", goodbye_seed(5, 4096, 100,
                                          [(i * 40, 30, 0x0101010101 * i) for i in range(40)]))
    save(h, "inside-equal-starts", goodbye_seed(3, 0, 0, [(5, i, 1) for i in range(9)]))
    # As given: a valid table, then children outside (entry, goodbye].
    valid = [(200 + 50 * i, 240 + 50 * i, (i * 0x9E3779B97F4A7C15) & (2**64 - 1))
             for i in range(12)]
    save(h, "given-valid", goodbye_seed(0, 100, 1000, valid))
    save(h, "given-start-at-entry", goodbye_seed(0, 100, 1000, [(100, 150, 1)]))
    save(h, "given-end-past-goodbye", goodbye_seed(0, 100, 1000, [(200, 1001, 1)]))
    save(h, "given-empty-child", goodbye_seed(0, 100, 1000, [(200, 200, 1)]))
    save(h, "given-entry-after-goodbye", goodbye_seed(0, 1000, 100, []))
    save(h, "given-huge", goodbye_seed(0, 0, 2**64 - 1, [(2**64 - 3, 2**64 - 2, 2**63)]))


def options_seeds():
    h = "fuzz-options"
    words = [b"16bit-uids", b"32bit-uids", b"user-names", b"nsec-time", b"2sec-time",
             b"read-only", b"permissions", b"symlinks", b"flag-nodump", b"subvolume-ro",
             b"acl", b"xattrs", b"quota-projid", b"exclude-nodump", b"sha512-256",
             b"best", b"unix", b"fat", b"chattr", b"fat-attrs", b"privileged", b"fuse",
             b"all", b"none", b"ACL", b"+unix -acl", b"+acl", b"-all +fuse", b"-best",
             b"+flag-nodump -exclude-nodump", b"sha256", b"zstd", b"xz", b"gzip", b"",
             b"0123456789abcdef" * 4, b"0123456789ABCDEF" * 4, b"0123456789abcdef" * 4 + b"0",
             b"g" + b"0" * 63]
    for i, w in enumerate(words):
        save(h, f"seed-{i:02d}", w)
    # Raw flags after the NUL, and the size of the buffer to format into.
    for i, (flags, n) in enumerate(((0xB0000001FFEFFE26, 255), (0xFFFFFFFFFFFFFFFF, 40),
                                    (0x0000000E00000000, 3), (0x20000000, 1), (0, 0),
                                    (0x1FFFFFFFF, 17))):
        save(h, f"flags-{i}", b"acl\0" + struct.pack("<Q", flags) + bytes([n]))


def locator_seeds():
    h = "fuzz-locator"
    for i, loc in enumerate((
            b"host:path", b"user@host:/abs/store.castr", b"host:", b":path", b"a@b@c:x",
            b"ssh://host/p", b"ssh://user@host:2222/srv/x.caibx", b"ssh://host:/p",
            b"ssh://host:22x/p", b"ssh://host/", b"ssh:///p", b"ssh://-oProxy=x/p",
            b"ssh://@host/p", b"ssh://user@/p", b"-oProxyCommand=x:y",
            b"http://example.com/store", b"https://u:secret@example.com:8443/a/b/?q=1#f",
            b"HTTP://EXAMPLE.COM//", b"http://a;b@host/x;y", b"http://u@host/", b"https://",
            b"file:///var/store", b"file://", b"file://rel/store", b"ftp://host/x",
            b"s3://bucket/x", b"", b"store.castr", b"./x:y", b".", b"..", b"dir/../x",
            b"a/b/c", b"-")):
        save(h, f"seed-{i:02d}", loc)
    # Found by fuzzing (a harness mistake): a file:// URL whose path holds "://".
    save(h, "crash-file-url-path-with-scheme", b"file://\3le://" + b"\3" * 13)


def s3_xml_seeds():
    """S3 answers as radosgw (Ceph 16) and AWS send them, written here, and
    broken or hostile variants."""
    h = "fuzz-s3-xml"
    decl = b'<?xml version="1.0" encoding="UTF-8"?>'
    ns = b' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
    contents = (b"<Contents><Key>store/0a1b/0a1b2c.cacnk</Key><LastModified>2026-12-06T19:05:21.318Z"
                b"</LastModified><ETag>&quot;9dd4e461268c8034f5c8564e155c67a6&quot;</ETag><Size>4096"
                b"</Size><StorageClass>STANDARD</StorageClass><Type>Normal</Type></Contents>")
    for i, doc in enumerate((
            decl + b"<ListBucketResult" + ns + b"><Name>b</Name><Prefix></Prefix><MaxKeys>2</MaxKeys>"
            b"<IsTruncated>true</IsTruncated>" + contents +
            b"<Contents><Key>b&amp;c&lt;d&gt;&quot;&apos;\xc3\xbc</Key><Size>18446744073709551615</Size></Contents>"
            b"<NextContinuationToken>b&amp;c</NextContinuationToken><KeyCount>2</KeyCount></ListBucketResult>",
            decl + b"<ListBucketResult" + ns + b"><Name>b</Name><Prefix>none/</Prefix><MaxKeys>1000</MaxKeys>"
            b"<IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>",
            decl + b"\n<ListBucketResult" + ns + b">\n  <IsTruncated> false </IsTruncated>\n  " + contents +
            b"\n  <CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes>\n</ListBucketResult>\n",
            b'<s3:ListBucketResult xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><s3:Contents>'
            b"<s3:Key>k&#9;&#10;x</s3:Key><s3:Size>1</s3:Size></s3:Contents></s3:ListBucketResult>",
            b"<ListBucketResult><Contents><Key>k</Key><Size>18446744073709551616</Size></Contents></ListBucketResult>",
            b"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
            b"<ListBucketResult><Contents><Key>" + b"k" * 1025 + b"</Key><Size>1</Size></Contents></ListBucketResult>",
            decl + b"<Error><Code>SignatureDoesNotMatch</Code><Message></Message><RequestId>tx00000bf9f56f76d929bc9"
            b"-006b15b1f1-100e-default</RequestId><HostId>100e-default-default</HostId></Error>",
            decl + b"<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is "
            b"malformed; the region 'us-east-1' is wrong; expecting 'eu-central-1'</Message>"
            b"<Region>eu-central-1</Region><RequestId>7C8B9E1B</RequestId></Error>",
            decl + b"<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must"
            b" be addressed using the specified endpoint.</Message><Endpoint>b.s3.eu-west-2.amazonaws.com"
            b"</Endpoint></Error>",
            b"<Error><Code>" + b"C" * 100 + b"</Code><Message>" + "\u00e9".encode() * 200 + b"</Message></Error>",
            decl + b"<DeleteResult" + ns + b"><Deleted><Key>nope</Key></Deleted><Deleted><Key>a/1</Key>"
            b"</Deleted></DeleteResult>",
            decl + b"<DeleteResult" + ns + b"><Error><Key>store/ffff/y.cacnk</Key><Code>AccessDenied</Code>"
            b"<Message>Access Denied</Message></Error><Error><Key>a&amp;b</Key></Error></DeleteResult>",
            b"<DeleteResult><Error><Code>AccessDenied</Code></Error></DeleteResult>",
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;">'
            b"<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;\">]><ListBucketResult><Contents><Key>&lol2;</Key>"
            b"<Size>1</Size></Contents></ListBucketResult>",
            b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><Error><Code>&x;</Code></Error>',
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            b"<ListBucketResult><Contents><Key>k</Key><Size>1</Size></Contents>",
            b"")):
        save(h, f"seed-{i:02d}", doc)


class Tree:
    """A fuzz-roundtrip input: see the operation list in fuzz-roundtrip.c."""

    def __init__(self, flags, more, root_mode=0o755, mtime=1600000000):
        self.b = bytes([flags, more]) + struct.pack(">H", root_mode) + self.time(mtime)

    @staticmethod
    def time(sec, frac=0):
        return (sec << 15 | frac).to_bytes(6, "big")

    @staticmethod
    def name(n):
        return bytes([len(n) - 1]) + n

    def file(self, n, mode=0o644, size=100, sec=1500000000):
        self.b += b"\0" + self.name(n) + struct.pack(">H", mode) + self.time(sec, 1234) + \
            struct.pack(">H", size)
        return self

    def dir(self, n, mode=0o755, sec=1500000000):
        self.b += b"\1" + self.name(n) + struct.pack(">H", mode) + self.time(sec, 77)
        return self

    def up(self):
        self.b += b"\2"
        return self

    def symlink(self, n, target, sec=1400000000):
        self.b += b"\3" + self.name(n) + self.time(sec) + bytes([len(target) - 1]) + target
        return self

    def fifo(self, n, mode=0o600):
        self.b += b"\4" + self.name(n) + struct.pack(">H", mode) + self.time(1300000000)
        return self

    def xattr(self, n, value):
        self.b += b"\5" + self.name(n) + bytes([len(value)]) + value
        return self


def roundtrip_seeds():
    h = "fuzz-roundtrip"
    # Byte 0: permissions, read-only, symlinks, fifos, nsec, sec, 32-bit
    # ids, xattrs; byte 1: usec, 2sec, 16-bit ids.
    save(h, "empty-root", Tree(0xFF, 0).b)
    save(h, "defaults-like", Tree(0xFD, 0).file(b"a.txt").dir(b"sub").file(b"b", size=5000)
         .symlink(b"link", b"../a.txt").fifo(b"fifo").up().file(b"z", size=0).b)
    save(h, "unix", Tree(0x2D, 4).file(b"x", mode=0o4755).dir(b"d", mode=0o1777)
         .file(b"y", mode=0o400).up().symlink(b"s", b"/abs/target").b)
    save(h, "no-metadata", Tree(0x00, 0).file(b"f").symlink(b"s", b"t").fifo(b"p")
         .dir(b"d").file(b"g", size=0x8000 | 70000 % 0x8000).b)
    save(h, "read-only-2sec", Tree(0x06, 2).file(b"w", mode=0o644).file(b"r", mode=0o444)
         .dir(b"rd", mode=0o555).up().b)
    save(h, "xattrs", Tree(0x91, 0).xattr(b"root", b"on the root").file(b"f")
         .xattr(b"one", b"1").xattr(b"two", b"").xattr(b"one", b"again").dir(b"d")
         .xattr(b"\xff\x01odd", bytes(range(40))).b)
    save(h, "names", Tree(0xFF, 0).file(b"\xc3\xa9t\xc3\xa9").file(b"B").file(b"a")
         .file(b"a b").file(b"-").file(b".hidden").file(b".caexclude").file(b"x" * 24)
         .file(b"a").file(b".").b)
    t = Tree(0x13, 1)
    for i in range(6):
        t.dir(b"level%d" % i)
    t.file(b"deep", size=3).dir(b"too-deep")
    for i in range(6):
        t.up()
    save(h, "deep", t.file(b"top").b)


def catar_tree_seeds():
    # random access reads the same archives the streaming decoder does
    for path in sorted(glob.glob(os.path.join(CORPUS, "fuzz-catar", "*.catar"))):
        with open(path, "rb") as f:
            save("fuzz-catar-tree", os.path.basename(path), f.read())


def main():
    for tool in ("casync", "zstd"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (apt-get install casync zstd)")
    if not os.access(GEN, os.X_OK):
        sys.exit(f"{GEN} not built (run `make check` first)")
    with tempfile.TemporaryDirectory() as tmp:
        index_seeds(tmp)
        chunk_seeds(tmp)
        remote_seeds(tmp)
    chunk_size_seeds()
    goodbye_seeds()
    options_seeds()
    locator_seeds()
    roundtrip_seeds()
    catar_tree_seeds()
    s3_xml_seeds()


if __name__ == "__main__":
    main()
