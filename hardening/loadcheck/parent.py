"""The parent process: starts the server and the clients, waits for them (or the
deadline), and sums up their reports into the run's checks and numbers."""

from __future__ import annotations

import argparse
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .processes import FD_MARGIN, LoadError, mib, raise_fd_limit, remaining

# the entry script: the server and the clients run it again, with --role
SCRIPT = Path(__file__).resolve().parents[1] / "load.py"


class Children:
    """The server and client processes: started with a pipe on stdin (closing it
    tells them the parent is gone), killed if still running at the end."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {**os.environ, "FASTFRAME_PURE_PYTHON": "1" if args.core == "python" else "0"}

    def start(self, role: str, *extra: str) -> subprocess.Popen[bytes]:
        a = self.args
        command = [sys.executable, str(SCRIPT), "--role", role, "--core", a.core]
        command += ["--connections", str(a.connections), "--frames", str(a.frames), "--window", str(a.window)]
        command += ["--server", a.server, "--deadline", repr(a.deadline), *(["--unix"] if a.unix else []), *extra]
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env)
        self.procs.append(proc)
        return proc

    def first_line(self, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            if not selector.select(max(remaining(self.args.deadline), 0)):
                raise LoadError("the server did not start listening before the deadline")
        line = proc.stdout.readline()
        if not line:
            raise LoadError(f"the server exited with status {proc.wait()} before listening")
        return json.loads(line)  # type: ignore[no-any-return]

    def wait(self) -> None:
        """Until every child has exited: a failure or the deadline ends the others."""
        while True:
            status = [proc.poll() for proc in self.procs]
            failed = [f"{self.name(i)} (status {code})" for i, code in enumerate(status) if code not in (None, 0)]
            if failed:  # (its own message is on stderr, above)
                raise LoadError("exited with a failure: " + ", ".join(failed))
            if None not in status:
                return
            if remaining(self.args.deadline) <= -5:  # the children stop themselves at the deadline
                raise LoadError("deadline passed: children killed")
            time.sleep(0.05)

    def name(self, i: int) -> str:
        return "the server" if i == 0 else f"client process {i}"

    def results(self) -> list[dict[str, Any]]:
        """Each child's last line of output: its report."""
        out = []
        for proc in self.procs:
            assert proc.stdout is not None
            lines = proc.stdout.read().splitlines()
            out.append(json.loads(lines[-1]))
        return out

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    raise_fd_limit(args.connections + FD_MARGIN)  # the server's need; the children inherit the limits
    started = time.time()
    args.deadline = started + args.timeout
    children = Children(args)
    workdir = tempfile.mkdtemp(prefix="fastframe-load-") if args.unix else None
    try:
        extra = ["--address", os.path.join(workdir, "server.sock")] if workdir else []
        server = children.start("server", *extra)
        address = children.first_line(server)["address"]  # a path, or [host, port]
        address = [address] if isinstance(address, str) else address
        share, rest = divmod(args.connections, args.clients)
        first = 0
        for i in range(args.clients):
            count = share + (i < rest)
            children.start("client", "--first", str(first), "--count", str(count), "--address", *map(str, address))
            first += count
        children.wait()
        results = children.results()
    finally:
        children.kill()
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return summarize(args, results[0], results[1:], time.time() - started)


def summarize(
    args: argparse.Namespace, server: dict[str, Any], clients: list[dict[str, Any]], wall: float
) -> dict[str, Any]:
    n = args.connections
    each_way = n * args.frames
    up, down = server["frames_in"], sum(c["replies_verified"] for c in clients)
    rss = server["rss"]
    base = rss["baseline"]
    per_connection = {
        stage: None if rss.get(stage) is None or base is None else (rss[stage] - base) / n
        for stage in ("idle", "active", "peak")
    }
    largest = max(c["largest_frame"] for c in clients)
    checks = {
        "every connection live at once (server peak)": server["peak_live"] == n,
        "every data frame sent (clients)": sum(c["frames_sent"] for c in clients) == each_way,
        "every data frame received, in order (server)": up == each_way,
        "every reply received and verified, in order (clients)": down == each_way,
        "every connection ended with a clean EOF (server)": server["clean_eofs"] == n,
        "every connection ended with a clean EOF (clients)": sum(c["clean_eofs"] for c in clients) == n,
        "every process ran the requested core": {server["core"], *(c["core"] for c in clients)} == {args.core},
        "a frame larger than the socket receive buffer": largest > server["socket_buffers"]["rcvbuf"],
    }
    return {
        "ok": all(checks.values()),
        "failed_checks": [name for name, ok in checks.items() if not ok],
        "core": args.core,
        "server_mode": args.server,
        "transport": "unix" if args.unix else "tcp",
        "connections": n,
        "frames_per_connection": args.frames,
        "frames_client_to_server": up,
        "frames_server_to_client": down,
        "frames_total": up + down,
        "control_frames": 3 * n,  # G, D and B: not counted above
        "bytes_each_way": server["bytes_each_way"],
        "largest_frame": largest,
        "exchange_seconds": server["exchange_seconds"],
        "frames_per_second": (up + down) / server["exchange_seconds"],
        "wall_seconds": wall,
        "server_rss_per_connection": per_connection,
        "server": server,
        "clients": clients,
    }


def kib(size: float | None) -> str:
    return "n/a" if size is None else f"{size / 1024:.1f} KiB"


def print_summary(r: dict[str, Any]) -> None:
    s, rss, per = r["server"], r["server"]["rss"], r["server_rss_per_connection"]
    lines = [
        f"{r['connections']} connections, {r['frames_per_connection']} frames each way per connection, "
        f"{r['server_mode']} server, {r['core']} core, {r['transport']}",
        f"  live at once (server peak): {s['peak_live']}, accepted in {s['accept_seconds']:.2f} s "
        f"(somaxconn {s['somaxconn']})",
        f"  frames: {r['frames_client_to_server']} client->server, {r['frames_server_to_client']} server->client, "
        f"{r['frames_total']} total "
        f"(+ {r['control_frames']} control); {r['bytes_each_way']} bytes each way, largest frame {r['largest_frame']} "
        f"(socket buffers: rcvbuf {s['socket_buffers']['rcvbuf']}, sndbuf {s['socket_buffers']['sndbuf']})",
        f"  exchange (server: go to the last done): {r['exchange_seconds']:.3f} s -> "
        f"{r['frames_per_second']:.0f} frames/s (both ways); "
        f"wall {r['wall_seconds']:.2f} s",
        f"  server RSS: baseline {mib(rss['baseline'])}, all idle {mib(rss['idle'])}, "
        f"all done {mib(rss['active'])}, peak {mib(rss['peak'])}",
        f"  server RSS per connection over baseline: idle {kib(per['idle'])}, done {kib(per['active'])}, "
        f"peak {kib(per['peak'])}",
        "  client peak RSS: " + ", ".join(mib(c["rss_peak"]) for c in r["clients"]),
        "OK: no frame lost, reordered or corrupted; every connection ended with a clean EOF"
        if r["ok"]
        else "FAILED: " + "; ".join(r["failed_checks"]),
    ]
    print("\n".join(lines))
