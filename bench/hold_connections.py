#!/usr/bin/env python3
"""Opens N TLS keep-alive connections to 127.0.0.1:PORT (plain HTTP with a third argument
"plain"), sends one GET on each (so each is a live keep-alive connection, handshake done and a
response read), prints "ready" and holds them until stdin closes. Used by
bench/idle-memory.sh to measure memory per idle connection."""
import socket
import ssl
import sys

port, count = int(sys.argv[1]), int(sys.argv[2])
plain = len(sys.argv) > 3 and sys.argv[3] == "plain"
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
held = []
for _ in range(count):
    raw = socket.create_connection(("127.0.0.1", port))
    connection = raw if plain else context.wrap_socket(raw, server_hostname="localhost")
    connection.sendall(b"GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n")
    received = b""
    while b"\r\n\r\n" not in received or not received.endswith(b"a" * 100):
        chunk = connection.recv(65536)
        if not chunk:
            sys.exit("connection closed early")
        received += chunk
    held.append(connection)
print("ready", flush=True)
sys.stdin.read()
