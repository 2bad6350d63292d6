# W7: capture the stdout of `cat FILE` into a string (asyncio subprocess).
import asyncio
import sys


async def main():
    proc = await asyncio.create_subprocess_exec("cat", sys.argv[1], stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    x = out.decode()
    print("done")


asyncio.run(main())
