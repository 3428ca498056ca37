#!/usr/bin/env python3
"""Open N keep-alive HTTP connections to a server on 127.0.0.1:PORT, send
one GET / on each and read the answer, leave them open and idle, and print
how much the server's RSS (process PID) grew per connection:

    idle_conn_kib 15.50 KiB (2000 connections, RSS 1996 -> 32988 KiB)

Usage: idle_conns.py PORT N PID (bench/conn_memory.sh runs it)."""
import re
import socket
import sys
import time

port = int(sys.argv[1]); n = int(sys.argv[2]); pid = sys.argv[3]
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1])
r0 = rss()
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
for s in socks:
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    m = re.search(rb"Content-Length: (\d+)", data, re.I)
    body = data.split(b"\r\n\r\n", 1)[1]
    while m and len(body) < int(m.group(1)):
        body += s.recv(4096)
time.sleep(0.5)
r1 = rss()
print(f"idle_conn_kib {(r1 - r0) / n:.2f} KiB ({n} connections, RSS {r0} -> {r1} KiB)")
