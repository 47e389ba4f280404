"""A command run in a real terminal, tmux, as a person would: keys sent with ``send-keys``, the
screen read with ``capture-pane``. Each ``Tmux`` has a tmux server of its own (``-L``), so
tests never touch a person's sessions or each other's, and ``close`` ends only that server."""

import asyncio
import re
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

COLUMNS, ROWS = 120, 50


class Tmux:
    def __init__(self, env: Mapping[str, str]) -> None:
        if shutil.which("tmux") is None:
            raise RuntimeError(
                "these tests run a terminal in tmux: install it (apt-get install tmux)"
            )
        self.socket = f"hitl-test-{uuid.uuid4().hex[:10]}"
        self.env = dict(env) | {"TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"}
        self._socket_path = ""

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        return done.stdout

    def start(self, command: Sequence[str]) -> None:
        """Run ``command`` in the session's window; once it ends the window says
        ``[exited N]`` and stays, so a test can read how it ended."""
        line = f'{shlex.join(command)}; echo "[exited $?]"; sleep 3600'
        self._tmux(
            "new-session", "-d", "-s", "test", "-x", str(COLUMNS), "-y", str(ROWS), line
        )  # fmt: skip
        self._tmux("set-option", "-t", "test", "history-limit", "5000")
        self._socket_path = self._tmux("display-message", "-p", "#{socket_path}").strip()

    def keys(self, *keys: str) -> None:
        """tmux key names (``Enter``, ``Down``, ``C-c``) or text, sent as typed."""
        self._tmux("send-keys", "-t", "test", *keys)

    def type(self, text: str) -> None:
        """``text`` as literal characters (no key names)."""
        self._tmux("send-keys", "-t", "test", "-l", text)

    def screen(self) -> str:
        """Everything shown so far, the scrollback included, wrapped lines joined."""
        return self._tmux("capture-pane", "-p", "-J", "-t", "test", "-S", "-5000")

    async def wait_for(self, pattern: str, *, after: int = 0, timeout: float = 30.0) -> int:
        """Until ``pattern`` (a regex) shows at or after character ``after`` of the screen;
        where it ends. On a timeout, fails with what the screen showed."""
        found = re.compile(pattern)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            shown = await asyncio.to_thread(self.screen)
            match = found.search(shown, after)
            if match:
                return match.end()
            if loop.time() > deadline:
                raise AssertionError(f"{pattern!r} never showed; the terminal showed:\n{shown}")
            await asyncio.sleep(0.1)

    def command_pid(self) -> int:
        """The process of the command ``start`` ran (a child of the window's shell)."""
        shell = self._tmux("display-message", "-p", "-t", "test", "#{pane_pid}").strip()
        children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
        [pid] = [int(c) for c in children]
        return pid

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)
        if self._socket_path:
            Path(self._socket_path).unlink(missing_ok=True)  # tmux leaves it behind
