# Shared by the tests that write catar archives by hand: casync's SipHash-2-4
# of names (for GOODBYE tables), its key, and the record types.
import struct

def siphash24(key, data):
    M = 0xffffffffffffffff
    rotl = lambda x, b: ((x << b) | (x >> (64 - b))) & M
    k0, k1 = struct.unpack('<QQ', key)
    v = [k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d,
         k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573]
    def rnd():
        v[0] = (v[0] + v[1]) & M; v[1] = rotl(v[1], 13) ^ v[0]; v[0] = rotl(v[0], 32)
        v[2] = (v[2] + v[3]) & M; v[3] = rotl(v[3], 16) ^ v[2]
        v[0] = (v[0] + v[3]) & M; v[3] = rotl(v[3], 21) ^ v[0]
        v[2] = (v[2] + v[1]) & M; v[1] = rotl(v[1], 17) ^ v[2]; v[2] = rotl(v[2], 32)
    n = len(data)
    end = n - n % 8
    for i in range(0, end, 8):
        m = struct.unpack('<Q', data[i:i + 8])[0]
        v[3] ^= m; rnd(); rnd(); v[0] ^= m
    m = (n & 0xff) << 56
    for i, c in enumerate(data[end:]):
        m |= c << (8 * i)
    v[3] ^= m; rnd(); rnd(); v[0] ^= m
    v[2] ^= 0xff
    for _ in range(4):
        rnd()
    return v[0] ^ v[1] ^ v[2] ^ v[3]

KEY = bytes.fromhex('b3841d0f2b447485c12ec2d130ed3627')
assert siphash24(KEY, b'a.txt') == 0x30dbb40a12778187
ENTRY, PAYLOAD, SYMLINK = 0x1396fabcea5bbb51, 0x8b9e1d93d6dcffc9, 0x664a6fb6830e0d6c
FILENAME, GOODBYE, MARKER = 0x6dbb6ebcb3161f0b, 0xdfd35c5e8327c403, 0x57446fa533702943
