# W9: checksum every file of DIR with sha256sum, 8 at a time (asyncio
# subprocesses and a semaphore), into a dict file -> sum.
import asyncio
import glob
import os
import sys


async def main():
    files = sorted(glob.glob(os.path.join(sys.argv[1], "*")))
    sums = {}
    sem = asyncio.Semaphore(8)

    async def one(f):
        async with sem:
            proc = await asyncio.create_subprocess_exec("sha256sum", f, stdout=asyncio.subprocess.PIPE)
            out, _ = await proc.communicate()
        sums[f] = out.split()[0].decode()

    await asyncio.gather(*(one(f) for f in files))
    print(len(sums))
    print(sums[files[0]])


asyncio.run(main())
