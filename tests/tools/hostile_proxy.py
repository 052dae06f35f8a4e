#!/usr/bin/env python3
"""Hostile TCP proxy for TLS negative tests (loopback only).

usage: hostile_proxy.py LISTEN_PORT TARGET_PORT MODE [ARG]
  pass                 forward unchanged
  flip N               flip one bit of the server->client byte at offset N (tampering)
  cut N                forward N server->client bytes, then FIN both ways (truncation, no close_notify)
  rst N                forward N server->client bytes, then RST (SO_LINGER 0)
  drip MS              forward server->client one byte per send(), sleeping MS ms (float) between bytes
  stall N              forward N server->client bytes, then stop forwarding but keep the socket open
  inject HEX           after the first server->client chunk, insert raw bytes HEX (e.g. an alert record)
  injectrec K HEX      insert raw bytes HEX just before the K-th (from 0) server->client TLS record,
                       whatever the TCP chunking (tlsport tests: a forged record after the handshake)
Handles one connection per accepted client, forever (kill it by PID).
"""
import socket, struct, sys, threading, time

lp, tp, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
arg = sys.argv[4] if len(sys.argv) > 4 else None

def c2s(c, s):
    try:
        while True:
            d = c.recv(65536)
            if not d: break
            s.sendall(d)
        s.shutdown(socket.SHUT_WR)
    except OSError: pass

def s2c_records(s, c):
    k, extra = int(arg), bytes.fromhex(sys.argv[5])
    buf = b""; rec = 0
    try:
        while True:
            d = s.recv(65536)
            if not d: break
            buf += d
            while len(buf) >= 5 and len(buf) >= 5 + struct.unpack(">H", buf[3:5])[0]:
                n = 5 + struct.unpack(">H", buf[3:5])[0]
                if rec == k: c.sendall(extra)
                c.sendall(buf[:n]); buf = buf[n:]; rec += 1
        c.sendall(buf)
        c.shutdown(socket.SHUT_WR)
    except OSError: pass

def s2c(s, c):
    if mode == "injectrec": return s2c_records(s, c)
    off = 0; injected = False
    try:
        while True:
            d = s.recv(65536)
            if not d: break
            if mode == "flip":
                n = int(arg)
                if off <= n < off + len(d):
                    b = bytearray(d); b[n - off] ^= 0x01; d = bytes(b)
            elif mode in ("cut", "rst", "stall"):
                n = int(arg)
                if off + len(d) >= n:
                    c.sendall(d[: n - off])
                    if mode == "cut":
                        c.shutdown(socket.SHUT_RDWR); s.close(); return
                    if mode == "rst":
                        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        c.shutdown(socket.SHUT_RD)      # unblock the c2s thread so close() is the last ref
                        time.sleep(0.05); c.close(); s.close(); return
                    time.sleep(3600); return
            elif mode == "drip":
                for i in range(len(d)):
                    c.sendall(d[i:i+1]); time.sleep(float(arg) / 1000.0)
                off += len(d); continue
            elif mode == "inject" and not injected:
                c.sendall(d); c.sendall(bytes.fromhex(arg)); injected = True; off += len(d); continue
            c.sendall(d); off += len(d)
        c.shutdown(socket.SHUT_WR)
    except OSError: pass

ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lp)); ls.listen(16)
print("PROXY READY", flush=True)
while True:
    c, _ = ls.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = socket.create_connection(("127.0.0.1", tp))
    threading.Thread(target=c2s, args=(c, s), daemon=True).start()
    threading.Thread(target=s2c, args=(s, c), daemon=True).start()
