# W4: N runs of /bin/true, at most 8 at a time (asyncio subprocesses + semaphore).
import asyncio
import sys

n = int(sys.argv[1])


async def main():
    sem = asyncio.Semaphore(8)

    async def one():
        async with sem:
            proc = await asyncio.create_subprocess_exec("/bin/true")
            await proc.wait()

    await asyncio.gather(*(one() for _ in range(n)))
    print(n)


asyncio.run(main())
