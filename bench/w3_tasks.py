# W3: N concurrent tasks, each asyncio.sleep(S), gathered.
import asyncio
import sys

n, s = int(sys.argv[1]), float(sys.argv[2])


async def main():
    tasks = [asyncio.create_task(asyncio.sleep(s)) for _ in range(n)]
    await asyncio.gather(*tasks)
    print(len(tasks))


asyncio.run(main())
