#!/usr/bin/env python3
"""Holds many idle TCP connections to a server, for flowrec's descriptor-exhaustion test.

    idle_connections.py HOST:PORT --count N --seconds S [--health-every T] [--per-second R]

Opens N connections that never send a byte (at most R a second, 500 by default), re-opens those the
server closes (as an attacker would), and every T seconds asks GET /health on a fresh connection, noting whether it was answered
within 2 s. Bounded: stops after S seconds. Prints one JSON line: how many were open at most, how
many the server closed, the health answers.
"""
import argparse
import json
import resource
import selectors
import socket
import time


def health(host, port):
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def main():
    p = argparse.ArgumentParser()
    p.add_argument("address")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--health-every", type=float, default=1.0)
    p.add_argument("--per-second", type=float, default=500.0)
    args = p.parse_args()
    host, port = args.address.rsplit(":", 1)
    port = int(port)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.count + 256)), hard))

    sel = selectors.DefaultSelector()
    open_now, closed_by_server, refused, most_open = 0, 0, 0, 0
    answers = []
    end = time.monotonic() + min(args.seconds, 120)
    next_health = time.monotonic() + args.health_every

    def open_one():
        nonlocal open_now, refused
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect_ex((host, port))
        except OSError:
            refused += 1
            s.close()
            return
        sel.register(s, selectors.EVENT_READ)
        open_now += 1

    opened, started = 0, time.monotonic()
    while time.monotonic() < end:
        allowed = int((time.monotonic() - started) * args.per_second) + 50
        while open_now < args.count and opened < allowed:
            open_one()
            opened += 1
        most_open = max(most_open, open_now)
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:  # closed (or reset) by the server
                sel.unregister(s)
                s.close()
                open_now -= 1
                closed_by_server += 1
        if time.monotonic() >= next_health:
            answers.append(health(host, port))
            next_health += args.health_every
    print(json.dumps({"opened": opened, "most_open": most_open, "closed_by_server": closed_by_server, "refused": refused,
                      "health_answered": sum(answers), "health_asked": len(answers)}), flush=True)


if __name__ == "__main__":
    main()
