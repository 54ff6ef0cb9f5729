# Hostile catar archives, shared by the tests that feed them to stasync:
# t0108 extracts and lists them, t0702 mounts them.
#
#   hostile_catars.py all                       good.catar and every hostile
#                                               variant, NAME.catar, here
#   hostile_catars.py deep FILE LEVELS NAME [LEAF]
#                                               LEVELS nested directories NAME
#   hostile_catars.py wide FILE COUNT            one directory of COUNT files
#
# Every variant has correct GOODBYE tables, so that the one thing wrong is
# what it tests.
import os, struct, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from catar_craft import siphash24, KEY, ENTRY, PAYLOAD, SYMLINK, FILENAME, GOODBYE, MARKER
FLAGS = 0xb000000000001f09  # casync make --with=unix

def rec(typ, body):
    return struct.pack('<QQ', 16 + len(body), typ) + body

def entry(mode, flags=FLAGS):
    return struct.pack('<8Q', 64, ENTRY, flags, mode, 0, 0, 0, 0)

def goodbye(items, gb_start, entry_start):
    # items: (hash, FILENAME start, end); sorted, then in BST level order
    items = sorted(items, key=lambda i: (i[0], i[1]))
    out, it = [None] * len(items), iter(items)
    def place(k):
        if k < len(items):
            place(2 * k + 1); out[k] = next(it); place(2 * k + 2)
    place(0)
    body = b''.join(struct.pack('<3Q', gb_start - s, e - s, h) for h, s, e in out)
    body += struct.pack('<3Q', gb_start - entry_start, 16 + len(body) + 24, MARKER)
    return rec(GOODBYE, body)

# A node: ('file', data[, mode, flags]), ('link', target), ('dir', [(name, node)...]).
# enc() returns the bytes and, in at, the offset of every record by path.
def enc(node, pos=0, path='', at=None):
    at = {} if at is None else at
    kind = node[0]
    at[path + '#entry'] = pos
    if kind == 'file':
        mode = node[2] if len(node) > 2 else 0o100644
        flags = node[3] if len(node) > 3 else FLAGS
        at[path + '#payload'] = pos + 64
        return entry(mode, flags) + rec(PAYLOAD, node[1]), at
    if kind == 'link':
        at[path + '#symlink'] = pos + 64
        return entry(0o120777) + rec(SYMLINK, node[1] + b'\0'), at
    out, items = entry(0o40755), []
    for name, child in node[1]:
        start = pos + len(out)
        cpath = path + '/' + name.decode('latin-1')
        at[cpath + '#filename'] = start
        out += rec(FILENAME, name + b'\0')
        b, _ = enc(child, pos + len(out), cpath, at)
        out += b
        items.append((siphash24(KEY, name), start, pos + len(out)))
    at[path + '#goodbye'] = pos + len(out)
    out += goodbye(items, pos + len(out), pos)
    return out, at

def save(name, data):
    open(name + '.catar', 'wb').write(data)

def le64(v):
    return struct.pack('<Q', v)

big = bytes((i * 7 + i // 251) & 0xff for i in range(300000))
def tree(sub=None, a=None):
    sub = sub if sub is not None else [(b'b', ('file', b'bravo\n')), (b'c', ('file', b'charlie\n'))]
    return ('dir', [(b'a', a or ('file', b'alpha\n')), (b'big', ('file', big)),
                    (b'link', ('link', b'a')), (b'sub', ('dir', sub))])

def write_all():
    good, at = enc(tree())
    save('good', good)

    def sub_with(name):
        kids = [(b'b', ('file', b'bravo\n')), (name, ('file', b'x\n'))]
        return enc(tree(sub=sorted(kids)))[0]

    # names
    save('name-dotdot', sub_with(b'..'))
    save('name-empty', sub_with(b''))
    save('name-abs', sub_with(b'/abs'))
    save('name-4096', sub_with(b'x' * 4096))
    save('name-256', sub_with(b'y' * 256))
    # a newline in a name must not split the message (a duplicate name is refused)
    save('name-newline', enc(tree(sub=[(b'n\nl', ('file', b'1\n')), (b'n\nl', ('file', b'2\n'))]))[0])

    # truncation
    save('cut-payload', good[:at['/big#payload'] + 150000])
    save('cut-sub-goodbye', good[:at['/sub#goodbye'] + 20])
    save('cut-root-goodbye', good[:at['#goodbye'] + 30])
    sub_gb = at['#goodbye'] - at['/sub#goodbye']   # sub's GOODBYE is just before the root's
    save('no-sub-goodbye', good[:at['/sub#goodbye']] + good[at['#goodbye']:])
    save('no-root-goodbye', good[:at['#goodbye']])

    # record sizes
    def set_size(off, size, d=good):
        return d[:off] + le64(size) + d[off + 8:]
    save('size-entry-0', set_size(0, 0))
    save('size-entry-huge', set_size(0, 2**64 - 1))
    save('size-filename-0', set_size(at['/sub#filename'], 0))
    save('size-filename-16', set_size(at['/sub#filename'], 16))
    save('size-payload-8', set_size(at['/a#payload'], 8))
    save('size-payload-huge', set_size(at['/big#payload'], 2**62))
    save('size-payload-max', set_size(at['/big#payload'], 2**64 - 1))
    save('size-symlink-16', set_size(at['/link#symlink'], 16))
    save('size-symlink-huge', set_size(at['/link#symlink'], 2**40))
    save('size-goodbye-16', set_size(at['/sub#goodbye'], 16))
    save('size-goodbye-huge', set_size(at['/sub#goodbye'], 2**60))

    # unknown record types
    def set_type(off, typ, d=good):
        return d[:off + 8] + le64(typ) + d[off + 16:]
    save('type-first', set_type(0, 0x0123456789abcdef))
    save('type-in-entry', set_type(at['/a#payload'], 0x0123456789abcdef))
    save('type-goodbye', set_type(at['/sub#goodbye'], 0x0123456789abcdef))

    # impossible file types
    save('mode-no-type', enc(tree(a=('file', b'alpha\n', 0o644)))[0])
    save('mode-all-type-bits', enc(tree(a=('file', b'alpha\n', 0o170644)))[0])
    save('mode-extra-bits', enc(tree(a=('file', b'alpha\n', 0o1100644)))[0])
    save('mode-dir-with-payload', enc(tree(a=('file', b'alpha\n', 0o40755)))[0])
    save('mode-link-with-payload', enc(tree(a=('file', b'alpha\n', 0o120777)))[0])
    save('mode-device-with-payload', enc(tree(a=('file', b'alpha\n', 0o20644)))[0])
    # a regular file that goes on with children, as if it were a directory
    f = good[:at['/sub#entry'] + 24] + le64(0o100644) + good[at['/sub#entry'] + 32:]
    save('mode-file-with-children', f)
    save('root-file', enc(('file', b'alpha\n'))[0])

    # feature flags that differ from the root's
    save('flags-differ', enc(tree(a=('file', b'alpha\n', 0o100644, FLAGS | 0x2)))[0])

    # a valid archive whose names a careless extractor could misuse: names
    # with spaces, newlines, leading dashes, 255 bytes; symlinks leading out
    save('valid-odd', enc(('dir', sorted([
        (b'-rf', ('file', b'dash\n')), (b'n\nl', ('file', b'newline\n')),
        (b'up', ('link', b'../../outside/victim')), (b'abs', ('link', b'/etc/passwd')),
        (b'z' * 255, ('file', b'long\n')), (b' sp ', ('file', b'space\n'))])))[0])

# deep(): n nested directories `name`, the innermost holding a file "leaf"
# with `leaf` in it (or nothing): what `casync make --with=unix` would write
# for such a tree, written as it goes (70 000 levels are 10 MB).
def deep(path, n, name, leaf=None):
    inner, _ = enc(('dir', [(b'leaf', ('file', leaf))] if leaf is not None else []))
    fn = rec(FILENAME, name + b'\0')
    h = siphash24(KEY, name)
    with open(path, 'wb') as out:
        out.write((entry(0o40755) + fn) * n)
        out.write(inner)
        size = len(inner)                        # the child's entry and contents
        for _ in range(n):
            child = len(fn) + size               # from its FILENAME to its end
            out.write(goodbye([(h, 64, 64 + child)], 64 + child, 0))
            size = 64 + child + 64

# wide(): one directory of n small files, f0000000... holding their number
# (built here, not by enc(), which copies the whole archive per child).
def wide(path, n):
    out, items = bytearray(entry(0o40755)), []
    for i in range(n):
        name, start = b'f%07d' % i, len(out)
        out += rec(FILENAME, name + b'\0') + entry(0o100644) + rec(PAYLOAD, b'%d\n' % i)
        items.append((siphash24(KEY, name), start, len(out)))
    out += goodbye(items, len(out), 0)
    open(path, 'wb').write(out)

if __name__ == '__main__':
    a = sys.argv[1:]
    if a == ['all']:
        write_all()
    elif a[:1] == ['deep'] and len(a) in (4, 5):
        deep(a[1], int(a[2]), a[3].encode(), a[4].encode() if len(a) > 4 else None)
    elif a[:1] == ['wide'] and len(a) == 3:
        wide(a[1], int(a[2]))
    else:
        sys.exit('usage: hostile_catars.py all | deep FILE LEVELS NAME [LEAF] | wide FILE COUNT')
