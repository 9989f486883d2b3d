"""HTTP/1.1 by hand over a socket, for what a well-behaved client library never sends: a body shorter
than its Content-Length, broken chunked encoding, unnormalised paths."""
from __future__ import annotations

import json
import socket
from dataclasses import dataclass


@dataclass
class RawReply:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def exchange(host: str, port: int, request: bytes, *, close_write: bool = True, timeout: float = 30) -> RawReply:
    """Send `request` as is, optionally shut the write side (the client is done or gone), read the reply."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/"):
        raise AssertionError(f"no HTTP reply: {received[:200]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawReply(int(lines[0].split()[1]), headers, body)


def request_head(method: str, path: str, headers: dict) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunked(*pieces: bytes) -> bytes:
    """A well-formed chunked body ending with the last-chunk."""
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"
