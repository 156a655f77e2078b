#!/usr/bin/env python3
"""Holds N Server-Sent Event streams open against a Settle on 127.0.0.x for a bounded time (scripts/bench).

usage: sse_streams.py BASE_URL N SECONDS KEY[,KEY...]

Opens N `GET /events` streams, spread round-robin over the API keys, reads (and discards) whatever they send,
prints `OPEN <n opened> REFUSED <n refused>` once all were tried, then closes them all after SECONDS and prints
`EVENTS <frames received>`.
"""

import asyncio
import sys
from urllib.parse import urlparse


async def stream(host, port, key, opened, refused, frames, stop):
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        refused.append(1)
        return
    writer.write(f"GET /events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        refused.append(1)
        writer.close()
        return
    opened.append(1)
    try:
        while not stop.is_set():
            try:
                chunk = await asyncio.wait_for(reader.read(65536), timeout=0.5)
            except asyncio.TimeoutError:
                continue
            if not chunk:
                break
            frames[0] += chunk.count(b"\n\n")
    finally:
        writer.close()


async def main():
    base, n, secs, keys = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4].split(",")
    u = urlparse(base)
    if not (u.hostname or "").startswith("127."):
        sys.exit("streams go to 127.0.0.x only")
    opened, refused, frames, stop = [], [], [0], asyncio.Event()
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(stream(u.hostname, u.port, keys[i % len(keys)], opened, refused, frames, stop)))
        if i % 100 == 99:
            await asyncio.sleep(0.05)
    while len(opened) + len(refused) < n:
        await asyncio.sleep(0.05)
    print(f"OPEN {len(opened)} REFUSED {len(refused)}", flush=True)
    await asyncio.sleep(secs)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(f"EVENTS {frames[0]}", flush=True)


asyncio.run(main())
