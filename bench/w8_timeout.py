# W8: a 100 ms timeout around an external `sleep ARG` (asyncio: wait_for, then
# kill the child and reap it, which is what a timeout has to do).
import asyncio
import subprocess
import sys
import time


async def main():
    t0 = time.monotonic()
    proc = await asyncio.create_subprocess_exec("/bin/sleep", sys.argv[1])
    try:
        await asyncio.wait_for(proc.wait(), 0.1)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
    t = time.monotonic() - t0
    alive = subprocess.run(["pgrep", "-f", f"^/bin/sleep {sys.argv[1]}"], stdout=subprocess.DEVNULL).returncode == 0
    print(f"{t} {'alive' if alive else 'gone'}")


asyncio.run(main())
