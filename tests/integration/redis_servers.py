#!/usr/bin/env python3
"""Real redis-server processes on loopback for tests (standard library only).

As a module:
    with standalone() as addr:                       # "127.0.0.1:PORT"
    with cluster(n=3, replicas=1) as seeds:          # ["127.0.0.1:PORT", ...]
As a CLI (used by meson to wrap test executables):
    redis_servers.py run [--standalone] [--cluster] [--cluster-replicas R] -- CMD ARGS...
starts what is asked, exports LARDER_TEST_REDIS=127.0.0.1:PORT and
LARDER_TEST_REDIS_CLUSTER=host:port,host:port,host:port (the primaries: seed nodes), runs
CMD and returns its exit code.

Servers run in a private temporary directory (configs, logs, cluster node files) with no
persistence (--save '' --appendonly no), on free ports of 127.0.0.1 (cluster nodes also
need port+10000 free for the cluster bus). Everything is killed and the directory removed
at exit, also on exceptions and SIGTERM/SIGINT/SIGHUP; the servers additionally get
PR_SET_PDEATHSIG so they die with this process even if it is SIGKILLed. Without
redis-server on PATH the CLI runs CMD without the variables (the tests skip), unless
CI=true, where that is an error (exit 2).
"""
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

START_TIMEOUT = 20.0  # seconds to wait for a server or the cluster to come up


def _pdeathsig():
    """Runs in the child before exec: die (SIGKILL) when the parent dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port(bus=False, taken=()):
    """A free loopback port (and port+10000 free too when bus is set)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port in taken or (bus and (port + 10000 > 65535 or port + 10000 in taken
                                      or not _port_free(port + 10000))):
            continue
        return port
    raise RuntimeError("no free port found")


def command(port, *args, timeout=2.0):
    """Sends one command over RESP and returns the decoded reply (str, int, list, None)
    or an Exception instance for an error reply. Raises OSError on connection failure."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(out)
        f = s.makefile("rb")
        return _read_reply(f)


def _read_reply(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise OSError("connection closed")
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        return Exception(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode(errors="replace")
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise OSError("bad reply %r" % line)


class Servers:
    """A temporary directory and the redis-server processes started in it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ldr_redis_")
        self.procs = []

    def start(self, port, *extra):
        args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                "--daemonize", "no", "--save", "", "--appendonly", "no",
                "--dir", self.dir, "--logfile", os.path.join(self.dir, "redis-%d.log" % port)]
        args += list(extra)
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, preexec_fn=_pdeathsig)
        self.procs.append(p)
        return p

    def wait_ping(self, port, proc):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("redis-server on port %d exited (%d); log: %s"
                                   % (port, proc.returncode, self.log_tail(port)))
            try:
                if command(port, "PING", timeout=0.5) == "PONG":
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("redis-server on port %d did not answer PING" % port)

    def start_on_free_port(self, bus=False, taken=(), extra=lambda port: []):
        """Starts a server on a free port and waits for PING; another port is tried when
        the chosen one was taken in the meantime (the server exits at once). Returns the
        port."""
        for attempt in range(5):
            port = free_port(bus=bus, taken=taken)
            p = self.start(port, *extra(port))
            try:
                self.wait_ping(port, p)
                return port
            except RuntimeError:
                if p.poll() is None or attempt == 4:
                    raise
        raise RuntimeError("unreachable")

    def log_tail(self, port):
        try:
            with open(os.path.join(self.dir, "redis-%d.log" % port)) as f:
                return " | ".join(f.read().strip().split("\n")[-5:])
        except OSError:
            return "(no log)"

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.procs = []
        shutil.rmtree(self.dir, ignore_errors=True)


def have_redis():
    return shutil.which("redis-server") is not None


@contextlib.contextmanager
def standalone():
    """One redis-server; yields "127.0.0.1:PORT"."""
    s = Servers()
    try:
        port = s.start_on_free_port()
        yield "127.0.0.1:%d" % port
    finally:
        s.close()


def _info_field(text, name):
    for line in str(text).split("\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return None


def _wait_cluster(ports, replicas):
    """Until every node reports cluster_state:ok and knows every node, and every replica's
    link to its primary is up (so it can be promoted)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        ready = True
        for port in ports:
            try:
                info = command(port, "CLUSTER", "INFO")
                if (_info_field(info, "cluster_state") != "ok"
                        or _info_field(info, "cluster_known_nodes") != str(len(ports))):
                    ready = False
                    break
                if replicas:
                    repl = command(port, "INFO", "replication")
                    if (_info_field(repl, "role") == "slave"
                            and _info_field(repl, "master_link_status") != "up"):
                        ready = False
                        break
            except OSError:
                ready = False
                break
        if ready:
            return
        time.sleep(0.05)
    raise RuntimeError("cluster did not reach cluster_state:ok")


def _primaries(port):
    """The primaries' addresses, in slot order, from CLUSTER SLOTS on one node."""
    slots = command(port, "CLUSTER", "SLOTS")
    out = []
    for entry in sorted(slots, key=lambda e: e[0]):
        addr = "%s:%d" % (entry[2][0] or "127.0.0.1", entry[2][1])
        if addr not in out:
            out.append(addr)
    return out


@contextlib.contextmanager
def cluster(n=3, replicas=0):
    """n primaries with `replicas` replicas each; yields the primaries as "127.0.0.1:PORT"
    (the seeds; the replicas are found through CLUSTER SLOTS/NODES)."""
    s = Servers()
    try:
        def node_args(port):
            return ["--cluster-enabled", "yes",
                    "--cluster-config-file", os.path.join(s.dir, "nodes-%d.conf" % port),
                    "--cluster-node-timeout", "1000",
                    "--cluster-require-full-coverage", "no"]
        ports = []
        for _ in range(n * (1 + replicas)):
            taken = set(ports) | {p + 10000 for p in ports}
            ports.append(s.start_on_free_port(bus=True, taken=taken, extra=node_args))
        addrs = ["127.0.0.1:%d" % p for p in ports]
        r = subprocess.run(["redis-cli", "--cluster", "create"] + addrs +
                           ["--cluster-replicas", str(replicas), "--cluster-yes"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=START_TIMEOUT)
        if r.returncode != 0:
            raise RuntimeError("redis-cli --cluster create failed: %s%s"
                               % (r.stdout[-500:], r.stderr[-500:]))
        _wait_cluster(ports, replicas)
        yield _primaries(ports[0])
    finally:
        s.close()


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


def run_cli(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="redis_servers.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    rp = sub.add_parser("run", help="start servers, run a command with their addresses")
    rp.add_argument("--standalone", action="store_true")
    rp.add_argument("--cluster", action="store_true")
    rp.add_argument("--cluster-replicas", type=int, default=0)
    rp.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        ap.error("no command given after --")
    if os.sep not in cmd[0] and os.path.isfile(cmd[0]):
        cmd[0] = os.path.abspath(cmd[0])  # meson may pass a program relative to workdir
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    env = dict(os.environ)
    env.pop("LARDER_TEST_REDIS", None)
    env.pop("LARDER_TEST_REDIS_CLUSTER", None)
    if not have_redis():
        if os.environ.get("CI") == "true":
            print("redis_servers.py: redis-server not found on PATH (CI=true: required)",
                  file=sys.stderr)
            return 2
        print("# redis_servers.py: redis-server not found; running without servers "
              "(Redis tests skip)", flush=True)
        return subprocess.call(cmd, env=env)
    with contextlib.ExitStack() as stack:
        if args.standalone:
            env["LARDER_TEST_REDIS"] = stack.enter_context(standalone())
        if args.cluster:
            seeds = stack.enter_context(cluster(3, args.cluster_replicas))
            env["LARDER_TEST_REDIS_CLUSTER"] = ",".join(seeds)
        p = subprocess.Popen(cmd, env=env)
        try:
            rc = p.wait()
            return 128 - rc if rc < 0 else rc  # killed by a signal: the shell's convention
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


if __name__ == "__main__":
    sys.exit(run_cli(sys.argv[1:]))
