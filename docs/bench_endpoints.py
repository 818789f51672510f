"""Misbehaving HTTP endpoints for `ampel bench live --job config/bench/reactions.yml`.

    python3 docs/bench_endpoints.py PORT hang|429|ok

hang: accepts each request and never answers; 429: answers 429 with
Retry-After: 1; ok: answers 200. Prints the number of requests on exit.
"""
import http.server
import socketserver
import sys
import threading
import time

port, mode = int(sys.argv[1]), sys.argv[2]
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        count += 1
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if mode == "hang":
            time.sleep(3600)
            return
        code = 429 if mode == "429" else 200
        self.send_response(code)
        if code == 429:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


try:
    Server(("127.0.0.1", port), Handler).serve_forever()
except KeyboardInterrupt:
    print(f"{count} requests", file=sys.stderr)
