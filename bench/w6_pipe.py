# W6: FILE through `cat FILE | wc -c` (asyncio subprocesses joined by an OS pipe).
import asyncio
import os
import sys


async def main():
    r, w = os.pipe()
    cat = await asyncio.create_subprocess_exec("cat", sys.argv[1], stdout=w)
    wc = await asyncio.create_subprocess_exec("wc", "-c", stdin=r)
    os.close(r)
    os.close(w)
    await asyncio.gather(cat.wait(), wc.wait())


asyncio.run(main())
