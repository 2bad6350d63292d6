# W5: N concurrent external `/bin/sleep S` (asyncio subprocesses).
import asyncio
import sys

n, s = int(sys.argv[1]), sys.argv[2]


async def main():
    async def one():
        proc = await asyncio.create_subprocess_exec("/bin/sleep", s)
        await proc.wait()

    await asyncio.gather(*(one() for _ in range(n)))
    print(n)


asyncio.run(main())
