"""Open-loop load: POST /search at a fixed rate, whatever the server's speed.

    python3 benches/openloop.py URL BODIES RATE SECONDS

Request i is due at i / RATE seconds after the start and is sent then on an idle
keep-alive connection (a new one when none is idle), so a slow answer never delays the
next request, as it does in a closed loop (wrk), which cannot hold a rate. A request's
latency runs from when it was due to when its whole answer has arrived: time spent
waiting in this generator counts against the server, not for it. BODIES holds one JSON
body per line, sent in turn. Prints one line:

    RESULT <sent> <errors> <seconds> <p50 ms> <p99 ms> <achieved req/s>
"""

import asyncio
import sys
import time
from urllib.parse import urlparse


async def exchange(conn, path, body):
    reader, writer = conn
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    writer.write(head + body)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("closed by the server")
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    await reader.readexactly(length)
    return status_line.split(b" ")[1] == b"200"


async def main(url, bodies, rate, seconds):
    u = urlparse(url)
    idle = []
    latencies, errors = [], 0
    total = int(rate * seconds)
    start = time.perf_counter()

    async def one(i):
        nonlocal errors
        due = start + i / rate
        conn, ok = None, False
        # A kept connection the server has closed (idle past its timeout) gets one retry
        # on a new connection; a failure on a new one is an error.
        for reused in ([True, False] if idle else [False]):
            try:
                if reused:
                    conn = idle.pop()
                else:
                    conn = await asyncio.open_connection(u.hostname, u.port)
                ok = await exchange(conn, "/search", bodies[i % len(bodies)])
                break
            except (OSError, asyncio.IncompleteReadError, IndexError):
                if conn is not None:
                    conn[1].close()
                conn = None
        latencies.append(time.perf_counter() - due)
        if not ok:
            errors += 1
        if conn is not None:
            idle.append(conn)

    tasks = []
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for _, writer in idle:
        writer.close()
    latencies.sort()
    pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    print(
        f"RESULT {total} {errors} {elapsed:.3f} {pct(0.50):.3f} {pct(0.99):.3f} "
        f"{total / elapsed:.1f}"
    )


if __name__ == "__main__":
    url, path, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    with open(path, "rb") as f:
        bodies = [line.rstrip(b"\n") for line in f if line.strip()]
    asyncio.run(main(url, bodies, rate, seconds))
