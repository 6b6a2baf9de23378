"""An independent permessage-deflate client (Python `websockets`) for tests/python_interop.rs.

Connects to the echo URL given as the first argument offering compression, checks that the
server accepted permessage-deflate, sends text and binary messages of several sizes (some
compressible, some not) and checks every echo. Prints one line per check; exits non-zero
on any mismatch.
"""

import asyncio
import os
import sys

from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory


async def main(url: str) -> None:
    async with connect(
        url,
        extensions=[ClientPerMessageDeflateFactory(client_max_window_bits=True)],
        compression=None,
        max_size=None,
    ) as ws:
        header = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        print(f"negotiated: {header}")
        assert header.startswith("permessage-deflate"), header
        names = [extension.name for extension in ws.protocol.extensions]
        assert names == ["permessage-deflate"], names
        sizes = [0, 1, 127, 128, 1000, 65_536, 1_000_000]
        for size in sizes:
            text = ("lorem ipsum dolor sit amet " * (size // 27 + 1))[:size]
            await ws.send(text)
            echo = await ws.recv()
            assert echo == text, f"text of {size} bytes came back different"
            noise = os.urandom(size)
            await ws.send(noise)
            echo = await ws.recv()
            assert echo == noise, f"binary of {size} bytes came back different"
            print(f"ok: {size} bytes, text and binary")
        # A fragmented compressed message.
        await ws.send(["part one, ", "part two, ", "part three"])
        assert await ws.recv() == "part one, part two, part three"
        print("ok: fragmented")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
