"""A small SMTP sink for rollcall's tests, on loopback.

Usage: smtp_sink.py PORT DIR

Accepts every message and writes it to DIR/NNNNNN.eml (the raw bytes as
received), then prints nothing more. Recipients whose local part starts
with `reject` get a permanent 550 answer; `tempfail` a temporary 451.
Prints `ready` on stdout once it listens; stops on SIGTERM or when stdin
closes (so it never outlives the test that started it).
"""

import asyncio
import os
import signal
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 mailbox unavailable"
        if local.startswith("tempfail"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = os.path.join(self.directory, "%06d.eml" % self.count)
        tmp = name + ".tmp"
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, name)
        return "250 Message accepted for delivery"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    async def watch_stdin():
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        await reader.read()
        stop.set()

    watcher = loop.create_task(watch_stdin())
    loop.run_until_complete(stop.wait())
    watcher.cancel()
    try:
        loop.run_until_complete(watcher)
    except asyncio.CancelledError:
        pass
    controller.stop()


if __name__ == "__main__":
    main()
