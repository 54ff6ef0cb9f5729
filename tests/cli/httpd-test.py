#!/usr/bin/env python3
"""A web server for the failures nginx cannot produce, for tests/cli/t0200.

Listens on 127.0.0.1 only, on a port the kernel picks (written to
--port-file), logs "METHOD PATH STATUS" per request to --log, and exits by
itself after --lifetime seconds or --max-requests requests.

Modes:
  serve    files from --root; the first --fail=N requests for each path
           answer --fail-status (500) instead, or, with --cut=BYTES,
           announce the whole file, send its first BYTES and close the
           connection
  stall    read the request, then never answer
  endless  answer 200 with a body that never ends (no Content-Length)
  liar     answer 200 announcing --length bytes, then send a few and close
  halt     answer 200 announcing --length bytes, send 100000, then nothing
  faults   files from --root, each request drawing (from --seed, the path
           and how many times it was asked before: the same for a seed
           whatever the order requests come in) one of: a reset
           connection (--reset RATE), a 503 (--status503 RATE), the body
           cut half-way (--cut-rate RATE), no answer at all, the connection
           held silently until the server stops (--hang RATE); else the
           file. The log's status is then "RST", 503, "CUT", "HANG" or the
           answer's status
  s3-region  an S3 server whose bucket is in --region: every request is
           400 with "x-amz-bucket-region: REGION", and a GET's answer has
           an AuthorizationHeaderMalformed error body, naming the region
           in <Region> unless --region-in=header (as for a HEAD, which
           has no body, the header alone says it then)
"""
import argparse
import os
import random
import socket
import struct
import posixpath
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--mode", default="serve",
                    choices=["serve", "stall", "endless", "liar", "halt", "faults",
                             "s3-region"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reset", type=float, default=0.0)
    ap.add_argument("--status503", type=float, default=0.0)
    ap.add_argument("--cut-rate", type=float, default=0.0)
    ap.add_argument("--hang", type=float, default=0.0)
    ap.add_argument("--region", default="eu-central-1")
    ap.add_argument("--region-in", default="body", choices=["body", "header"])
    ap.add_argument("--root", default=".")
    ap.add_argument("--fail", type=int, default=0)
    ap.add_argument("--fail-status", type=int, default=500)
    ap.add_argument("--length", type=int, default=1 << 31)
    ap.add_argument("--cut", type=int, default=None)
    ap.add_argument("--lifetime", type=float, default=120)
    ap.add_argument("--max-requests", type=int, default=2000)
    a = ap.parse_args()

    lock = threading.Lock()
    t0 = time.monotonic()
    state = {"requests": 0, "per_path": {}}
    log = open(a.log, "a", buffering=1)

    def done_one():
        with lock:
            state["requests"] += 1
            if state["requests"] >= a.max_requests:
                threading.Thread(target=lambda: (time.sleep(0.2), os._exit(0)),
                                 daemon=True).start()
            return state["requests"]

    def path_seen(path):
        with lock:
            n = state["per_path"].get(path, 0) + 1
            state["per_path"][path] = n
            return n

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def note(self, status):
            if a.mode == "faults":
                # when, in seconds since the start: where a client waited
                log.write("%s %s %s %.3f\n" % (self.command, self.path, status,
                                               time.monotonic() - t0))
            else:
                log.write("%s %s %s\n" % (self.command, self.path, status))

        def fault(self, k):
            """The fault drawn for the k-th request of this path, or None."""
            x = random.Random("%d %s %d" % (a.seed, self.path, k)).random()
            for name, rate in (("RST", a.reset), ("503", a.status503),
                               ("CUT", a.cut_rate), ("HANG", a.hang)):
                if x < rate:
                    return name
                x -= rate
            return None

        def reply(self, status, body=b"", length=None):
            self.send_response(status)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.note(status)

        def do_GET(self):
            done_one()
            if a.mode == "stall":
                self.note(0)
                time.sleep(a.lifetime + 5)
                return
            if a.mode == "endless":
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                self.note(200)
                block = b"\0" * 65536
                try:
                    for _ in range(16384):          # 1 GiB at most
                        self.wfile.write(block)
                except OSError:
                    pass
                return
            if a.mode == "halt":
                self.send_response(200)
                self.send_header("Content-Length", str(a.length))
                self.end_headers()
                self.note(200)
                try:
                    for _ in range(10):
                        self.wfile.write(b"\0" * 10000)
                        self.wfile.flush()
                        time.sleep(0.05)
                except OSError:
                    return
                time.sleep(a.lifetime + 5)
                return
            if a.mode == "s3-region":
                where = b"" if a.region_in == "header" else (
                    b"<Region>" + a.region.encode() + b"</Region>")
                body = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'
                        b"AuthorizationHeaderMalformed</Code><Message>The authorization header is "
                        b"malformed; the region 'us-east-1' is wrong</Message>" + where +
                        b"<RequestId>0A1B2C3D</RequestId></Error>")
                self.send_response(400)
                self.send_header("x-amz-bucket-region", a.region)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                self.note(400)
                return
            if a.mode == "liar":
                self.send_response(200)
                self.send_header("Content-Length", str(a.length))
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                self.note(200)
                try:
                    self.wfile.write(b"\0" * 1000)
                except OSError:
                    pass
                return
            k = path_seen(self.path)
            f = self.fault(k) if a.mode == "faults" else None
            if f == "RST":
                # SO_LINGER 0: close() sends a RST, not a FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.close_connection = True
                self.note(f)
                self.connection.close()
                return
            if f == "503":
                self.reply(503, b"failing on purpose\n")
                return
            if f == "HANG":
                self.note(f)
                # the connection ends when the process does
                time.sleep(a.lifetime + 5)
                return
            if k <= a.fail and a.cut is None and f is None:
                self.reply(a.fail_status, b"failing on purpose\n")
                return
            path = urllib.parse.urlsplit(self.path).path
            path = posixpath.normpath(urllib.parse.unquote(path)).lstrip("/")
            if path.startswith("..") or path == ".":
                self.reply(404)
                return
            try:
                with open(os.path.join(a.root, path), "rb") as fh:
                    data = fh.read()
            except OSError:
                self.reply(404, b"no such file\n")
                return
            if f == "CUT" or k <= a.fail:
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                self.note(f or 200)
                try:
                    self.wfile.write(data[:len(data) // 2 if f == "CUT" else a.cut])
                except OSError:
                    pass
                return
            self.reply(200, data)

        do_HEAD = do_GET

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    threading.Thread(target=lambda: (time.sleep(a.lifetime), os._exit(0)),
                     daemon=True).start()
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
