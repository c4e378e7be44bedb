"""A stand-in Kubernetes API server for tests: HTTPS on loopback (client-go runs exec credential
plugins only for TLS connections), answers every GET with an empty namespace list, and prints
each request's Authorization header as one line on stdout. The first line is the port.

usage: apiserver.py CERT KEY
"""
import http.server
import ssl
import sys
import threading

# Requests are handled on many threads: one line per request, whole, under a lock, or two
# threads' lines can interleave into one.
LOG = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with LOG:
            sys.stdout.write("auth " + self.headers.get("Authorization", "") + "\n")
            sys.stdout.flush()
        body = b'{"kind":"NamespaceList","apiVersion":"v1","metadata":{},"items":[]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    cert, key = sys.argv[1], sys.argv[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    # Stop when the test closes our stdin (it dies, or drops us).
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
