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
`hits` counts the requests per path."""
import collections
import http.server
import os
import re
import socket
import threading
import time


class Server:
    def __init__(self, root, late=3.0):
        self.root = root
        self.late = late
        self.hits = collections.Counter()
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

            def head(self, code, length, extra=()):
                self.send_response(code)
                self.send_header("Content-Type", "application/x-tar")
                self.send_header("Content-Length", str(length))
                for k, v in extra:
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
                    self.head(200, len(data))
                    self.wfile.write(data)

            def serve_range(self, path, first):
                data = self.body(path)
                if data is None:
                    return
                m = re.match(r"bytes=(\d+)-$", self.headers.get("Range", ""))
                if not m:
                    return self.serve_ok(path, first)
                start = int(m.group(1))
                self.head(206, len(data) - start, [("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")])
                self.wfile.write(data[start:])

            def serve_drop(self, path, first):
                if not first:
                    return self.serve_range(path, first)
                data = self.body(path)
                if data is not None:
                    self.head(200, len(data))
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
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
