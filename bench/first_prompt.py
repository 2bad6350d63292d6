#!/usr/bin/env python3
"""The first prompt: how long an interactive shell takes from being started
in a pseudo-terminal to its prompt on the screen, with a 10,000-entry
history (issue 19: ash must stay under 10 ms).

Usage: first_prompt.py SHELL [ASH_PATH]   (SHELL: ash, bash or dash)

Prints the milliseconds to the prompt, then the CPU milliseconds the shell
used meanwhile (user + system, from wait4; it hardly moves with the load of
a shared machine, unlike the wall time). Each shell gets a fresh home in a temporary
directory (removed afterwards) with a prompt of `P1> `; ash and bash get
10,000 history entries (dash keeps no history file). The terminal side
answers cursor-position queries at once, as a local terminal does. The
time includes the fork and exec of the shell, as a terminal's would.
"""
import os
import pty
import select
import shutil
import signal
import sys
import tempfile
import time

ENTRIES = 10_000
PROMPT = b"P1> "


def main():
    kind = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="ash-bench-prompt-")
    try:
        home = os.path.join(tmp, "home")
        os.makedirs(home)
        history = "".join(f"echo history entry number {i} | wc -c\n" for i in range(ENTRIES))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "TERM": "xterm-256color",
            "LANG": os.environ.get("LANG", "C.UTF-8"),
        }
        if kind == "ash":
            os.makedirs(os.path.join(tmp, "config", "ash"))
            os.makedirs(os.path.join(tmp, "data", "ash"))
            with open(os.path.join(tmp, "config", "ash", "config.ash"), "w") as f:
                f.write('fn prompt { return "P1> " }\n')
            with open(os.path.join(tmp, "data", "ash", "history.txt"), "w") as f:
                f.write(history)
            env["XDG_CONFIG_HOME"] = os.path.join(tmp, "config")
            env["XDG_DATA_HOME"] = os.path.join(tmp, "data")
            argv = [sys.argv[2]]
        elif kind == "bash":
            path = os.path.join(tmp, "bash_history")
            with open(path, "w") as f:
                f.write(history)
            env.update(PS1="P1> ", HISTFILE=path, HISTSIZE=str(ENTRIES))
            argv = ["bash", "--norc", "--noprofile", "-i"]
        elif kind == "dash":
            env["PS1"] = "P1> "
            argv = ["dash", "-i"]
        else:
            sys.exit(f"first_prompt.py: unknown shell {kind}")
        start = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        seen, answered = b"", 0
        try:
            while PROMPT not in seen:
                ready, _, _ = select.select([fd], [], [], 10)
                if not ready:
                    sys.exit(f"first_prompt.py: no prompt from {kind} within 10 s: {seen[-200:]!r}")
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    sys.exit(f"first_prompt.py: {kind} exited before its prompt: {seen[-200:]!r}")
                while answered < seen.count(b"\x1b[6n"):
                    os.write(fd, b"\x1b[1;1R")
                    answered += 1
            took = time.perf_counter() - start
        finally:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, _, usage = os.wait4(pid, 0)
            os.close(fd)
        print(f"{took * 1000:.2f} {(usage.ru_utime + usage.ru_stime) * 1000:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
