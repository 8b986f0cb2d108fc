"""A local HTTP server for the streamed-shard tests (127.0.0.1 only, bounded responses): serves
the files of one directory under /<mode>/<name>, where <mode> picks the behaviour:
  ok      the file (200, Content-Length)            range   the same, honouring Range (206)
  drop    the first request for a name stops halfway and closes the connection; then as range
  err500  the first request for a name answers 500; then as ok
  404     always 404                                  loop    a redirect to itself
  excess  Content-Length says half, the whole file is sent
  endless a tar header declaring a huge member, then zeros (at most 256 MiB)
  stall   the headers and half the body, then silence for 30 s
  slow    the file at about 2 MB/s
  late    the file after `late` seconds of silence (Server(root, late=S), default 3)
  empty   200 with an empty body                     noend   the tar without its end-of-archive
  onezero the tar with one of its two zero blocks             blocks (cut after its last member)
  drip    Content-Length of the file, then 16 bytes every 0.25 s (for at most 60 s)
  nohead  as ok, but HEAD is answered 405 (as for URLs presigned for GET)
  flip    a request without Range stops halfway (as drop); one with Range is answered (206) with
          another ETag: the file changed in between
Responses carry an ETag (a digest of the content) and Last-Modified (the file's modification
time); HEAD answers the headers of ok (404, loop, endless, nohead as their GETs would).
`hits` counts the GET requests per path, `heads` the HEAD requests.
Server(root, tls=DIR) serves https with a self-signed certificate made in DIR (openssl)."""
import collections
import email.utils
import hashlib
import http.server
import os
import re
import socket
import ssl
import subprocess
import tarfile
import threading
import time


def members_end(path):
    """Bytes of the tar at path up to the end of its last member (its data padded to 512)."""
    with tarfile.open(path) as t:
        last = t.getmembers()[-1]
    return last.offset_data + (last.size + 511) // 512 * 512


class Server:
    def __init__(self, root, late=3.0, tls=None):
        self.root = root
        self.late = late
        self.hits = collections.Counter()
        self.heads = collections.Counter()
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = self.path.split("?")[0].strip("/").split("/", 1)
                mode, name = parts[0], parts[1] if len(parts) > 1 else ""
                with outer.lock:
                    outer.hits[self.path.split("?")[0]] += 1
                    first = outer.hits[self.path.split("?")[0]] == 1
                try:
                    getattr(self, "serve_" + mode)(os.path.join(outer.root, os.path.basename(name)), first)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_HEAD(self):
                parts = self.path.split("?")[0].strip("/").split("/", 1)
                mode, name = parts[0], parts[1] if len(parts) > 1 else ""
                with outer.lock:
                    outer.heads[self.path.split("?")[0]] += 1
                path = os.path.join(outer.root, os.path.basename(name))
                if mode in ("404", "loop"):
                    return getattr(self, "serve_" + mode)(path, False)
                if mode == "nohead":
                    return self.send_error(405)
                if mode == "endless":
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    return self.end_headers()
                data = b"" if mode == "empty" else self.body(path)
                if data is not None:
                    self.head(200, len(data), path=path)

            def validators(self, path):
                try:
                    with open(path, "rb") as f:
                        etag = '"' + hashlib.sha256(f.read()).hexdigest()[:16] + '"'
                    return [("ETag", etag), ("Last-Modified", email.utils.formatdate(os.stat(path).st_mtime, usegmt=True))]
                except OSError:
                    return []

            def head(self, code, length, extra=(), path=None):
                self.send_response(code)
                self.send_header("Content-Type", "application/x-tar")
                self.send_header("Content-Length", str(length))
                for k, v in list(extra) + (self.validators(path) if path else []):
                    self.send_header(k, v)
                self.end_headers()

            def body(self, path):
                try:
                    with open(path, "rb") as f:
                        return f.read()
                except OSError:
                    self.send_error(404)
                    return None

            def serve_ok(self, path, first):
                data = self.body(path)
                if data is not None:
                    self.head(200, len(data), path=path)
                    self.wfile.write(data)

            serve_nohead = serve_ok

            def serve_range(self, path, first, extra=()):
                data = self.body(path)
                if data is None:
                    return
                m = re.match(r"bytes=(\d+)-$", self.headers.get("Range", ""))
                if not m:
                    return self.serve_ok(path, first)
                start = int(m.group(1))
                self.head(206, len(data) - start, [("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")]
                          + list(extra), path=None if extra else path)
                self.wfile.write(data[start:])

            def serve_empty(self, path, first):
                self.head(200, 0, path=path)

            def serve_noend(self, path, first, extra=0):
                data = self.body(path)
                if data is not None:
                    data = data[:members_end(path) + extra]
                    self.head(200, len(data), path=path)
                    self.wfile.write(data)

            def serve_onezero(self, path, first):
                self.serve_noend(path, first, 512)

            def serve_drip(self, path, first):
                data = self.body(path)
                if data is not None:
                    self.head(200, len(data), path=path)
                    for i in range(0, min(len(data), 16 * 240), 16):
                        self.wfile.write(data[i:i + 16])
                        self.wfile.flush()
                        time.sleep(0.25)
                    self.close_connection = True

            def serve_flip(self, path, first):
                if "Range" in self.headers:
                    return self.serve_range(path, first, [("ETag", '"another-version"')])
                self.serve_drop(path, True)

            def serve_drop(self, path, first):
                if not first:
                    return self.serve_range(path, first)
                data = self.body(path)
                if data is not None:
                    self.head(200, len(data), path=path)
                    self.wfile.write(data[:len(data) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True

            def serve_err500(self, path, first):
                if first:
                    self.send_error(500, "try again")
                else:
                    self.serve_ok(path, first)

            def serve_404(self, path, first):
                self.send_error(404)

            def serve_loop(self, path, first):
                self.send_response(302)
                self.send_header("Location", self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def serve_excess(self, path, first):
                data = self.body(path)
                if data is not None:
                    self.head(200, len(data) // 2)
                    self.wfile.write(data)
                    self.close_connection = True

            def serve_endless(self, path, first):
                hdr = bytearray(512)
                hdr[0:9] = b"huge.jpg\0"
                hdr[100:108] = b"0000644\0"
                hdr[124:136] = b"77777777777\0"          # 8 GiB - 1
                hdr[156:157] = b"0"
                hdr[257:263] = b"ustar\0"
                hdr[263:265] = b"00"
                hdr[148:156] = b" " * 8
                hdr[148:156] = b"%06o\0 " % sum(hdr)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-tar")
                self.end_headers()                       # no length: the body ends when we close
                self.wfile.write(bytes(hdr))
                zeros = bytes(1 << 20)
                for _ in range(256):
                    self.wfile.write(zeros)
                self.close_connection = True

            def serve_stall(self, path, first):
                data = self.body(path)
                if data is not None:
                    self.head(200, len(data))
                    self.wfile.write(data[:len(data) // 2])
                    self.wfile.flush()
                    time.sleep(30)
                    self.close_connection = True

            def serve_late(self, path, first):
                time.sleep(outer.late)
                self.serve_ok(path, first)

            def serve_slow(self, path, first):
                data = self.body(path)
                if data is not None:
                    self.head(200, len(data))
                    for i in range(0, len(data), 65536):
                        self.wfile.write(data[i:i + 65536])
                        self.wfile.flush()
                        time.sleep(0.03)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        if tls:
            key, cert = os.path.join(tls, "key.pem"), os.path.join(tls, "cert.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                            "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            self.url = f"https://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
