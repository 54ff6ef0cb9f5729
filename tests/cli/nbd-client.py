#!/usr/bin/env python3
"""A few NBD requests the stock clients do not send, for t0701-mkdev:
an option the server does not know, a write, a read past the end.
Prints one line per check: "NAME VALUE"."""
import socket
import struct
import sys

IHAVEOPT = 0x49484156454F5054
OPT_REPLY = 0x3E889045565A9


def recv(s, n):
    b = b""
    while len(b) < n:
        k = s.recv(n - len(b))
        if not k:
            raise EOFError("server closed the connection")
        b += k
    return b


def option(s, opt, data=b""):
    s.sendall(struct.pack(">QII", IHAVEOPT, opt, len(data)) + data)


def opt_reply(s):
    magic, opt, typ, n = struct.unpack(">QIII", recv(s, 20))
    assert magic == OPT_REPLY, hex(magic)
    return opt, typ, recv(s, n)


def request(s, typ, offset, length, payload=b""):
    s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, typ, 0x1234, offset, length) + payload)
    magic, err, handle = struct.unpack(">IIQ", recv(s, 16))
    assert magic == 0x67446698 and handle == 0x1234
    return err


s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
magic, ihaveopt, flags = struct.unpack(">QQH", recv(s, 18))
print("magic", "ok" if magic == 0x4E42444D41474943 and ihaveopt == IHAVEOPT else "bad")
print("handshake-flags", flags)
s.sendall(struct.pack(">I", 3))   # FIXED_NEWSTYLE | NO_ZEROES
option(s, 8)                      # NBD_OPT_STRUCTURED_REPLY
print("structured-reply", hex(opt_reply(s)[1]))
option(s, 1, b"")                 # NBD_OPT_EXPORT_NAME ""
size, tflags = struct.unpack(">QH", recv(s, 10))
print("size", size)
print("read-only", tflags & 2 and 1)
print("write", request(s, 1, 0, 512, b"x" * 512))
print("trim", request(s, 4, 0, 512))
print("read-past-end", request(s, 0, size, 512))
err = request(s, 0, 0, 512)
print("read", err, len(recv(s, 512)) if err == 0 else 0)
s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 2, 0, 0, 0))   # NBD_CMD_DISC
s.close()
