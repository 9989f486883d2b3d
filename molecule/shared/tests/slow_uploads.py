"""Slow uploads through the HTTPS proxy, as an attacker (or a camera on a very bad link) sends them.

Copied to the web server and run there with the system python3 (standard library only) by
test_proxy_limits.py; not a test itself. Each connection sends its request headers and a first burst
of body at once (past Apache's 16 KiB prefetch, so the proxy must decide whether to stream or to buffer),
then one byte every half second until --seconds have passed, the body is complete or the server
answers or hangs up. Writes one JSON list of what happened to each connection to --out.

  slow_uploads.py --name HOST --address 127.0.0.1 --cafile CRT --seconds 50 --out FILE \\
      PATH:COUNT:CONTENT_LENGTH:BURST[:multipart] ...
"""
import argparse
import json
import os
import select
import socket
import ssl
import threading
import time

BOUNDARY = "skyfleet-slow-upload"


def body_start(multipart: bool, size: int) -> bytes:
    if not multipart:
        return b"a=" + b"a" * (size - 2)
    # a SyncAPI upload whose metadata part never ends: the app reads it and waits for more
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
            "Content-Type: application/json\r\n\r\n{").encode()
    return head + b" " * (size - len(head))


def one(args, path, length, burst, multipart, started, results, index):
    rec = {"path": path, "opened": None, "ended": None, "reason": None, "status": None, "sent": 0}
    results[index] = rec
    sock = None
    try:
        ctx = ssl.create_default_context(cafile=args.cafile)
        raw = socket.create_connection((args.address, 443), timeout=10)
        sock = ctx.wrap_socket(raw, server_hostname=args.name)
        kind = f"multipart/form-data; boundary={BOUNDARY}" if multipart else "application/x-www-form-urlencoded"
        head = (f"POST {path} HTTP/1.1\r\nHost: {args.name}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode()
        sock.sendall(head + body_start(multipart, burst))
        rec["sent"] = burst
        rec["opened"] = time.monotonic() - started
        sock.setblocking(False)
        deadline = started + args.seconds
        while True:
            if time.monotonic() >= deadline:
                rec["reason"] = "deadline"
                break
            if rec["sent"] >= length:
                rec["reason"] = "complete"
                break
            readable, _, _ = select.select([sock], [], [], 0.5)
            if readable or sock.pending():
                try:
                    data = sock.recv(4096)
                except ssl.SSLWantReadError:
                    continue
                if data:
                    line = data.split(b"\r\n", 1)[0].decode("latin-1")
                    rec["reason"], rec["status"] = "answered", line
                else:
                    rec["reason"] = "closed"
                break
            try:
                sock.send(b" " if multipart else b"a")
                rec["sent"] += 1
            except (ssl.SSLWantWriteError, BlockingIOError):
                pass
    except (OSError, ssl.SSLError) as exc:
        rec["reason"] = rec["reason"] or f"error: {exc}"
    rec["ended"] = time.monotonic() - started
    if sock is not None:
        try:
            sock.close()
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--cafile", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("specs", nargs="+")
    args = parser.parse_args()
    jobs = []
    for spec in args.specs:
        path, count, length, burst, *flags = spec.split(":")
        jobs += [(path, int(length), int(burst), "multipart" in flags)] * int(count)
    started = time.monotonic()
    results = [None] * len(jobs)
    threads = [threading.Thread(target=one, args=(args, *job, started, results, i)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(args.out + ".tmp", "w") as fh:
        json.dump(results, fh)
    os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
