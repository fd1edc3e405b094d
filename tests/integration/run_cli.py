#!/usr/bin/env python3
"""CLI integration tests for Larder, printed as TAP.

Usage: run_cli.py LARDER_BINARY PROJECT_ROOT

Two kinds of tests, both declarative (curl's tests/data idea):

1. Broken repositories: every directory tests/data/broken/NN-name/ is a feature repository
   with problems. `larder plan` and `larder apply` must both exit 2 and print exactly the
   lines of its `expected.txt` on stderr, and apply must leave the registry without any
   version.

2. Case files: tests/integration/cases/*.case run a sequence of steps in a fresh copy of a
   repository:
       desc: what the case pins                 (first line)
       repo: examples/driver_ranking            (copied to a temp dir, relative to root)
       $ larder apply                           a step: run larder with these args
                                                (split like a shell; cwd = the copy)
       ? 0                                      expected exit status (default 0)
       > exact stdout line                      if any '>' lines: stdout must equal them
       >* text                                  stdout must contain text
       >! text                                  stdout must not contain text
       ! exact stderr line                      if any '!' lines: stderr must equal them
       !* text                                  stderr must contain text
       sh: command                              run a shell command in the copy (setup,
                                                or a check: see below)
   Lines starting with '#' are comments. '{DIR}' in a step or an expectation line expands
   to the copy's (real) path; '{LARDER}' in a sh: step expands to the larder binary under
   test (shell-quoted), e.g. `sh: ({LARDER} apply & {LARDER} apply; wait)`. A sh: step
   takes the same expectation lines as a larder step ('?', '>', '>*', '>!', '!', '!*');
   without any it must just exit 0, as before. That lets a case post-process output, e.g.
   mask timestamps: `sh: {LARDER} registry history | sed -E 's/ [0-9T:.-]+Z / TIME /'`.
Each case is one TAP test; a failing step prints its command, output and expectation.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile


def run(binary, args, cwd):
    p = subprocess.run([binary] + args, cwd=cwd, capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr


class Result:
    def __init__(self):
        self.ok = True
        self.notes = []

    def fail(self, msg):
        self.ok = False
        self.notes.append(msg)


def check_broken(binary, repo_dir, res):
    expected_path = os.path.join(repo_dir, "expected.txt")
    with open(expected_path) as f:
        expected = f.read().rstrip("\n").split("\n")
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, "repo")
        shutil.copytree(repo_dir, work, ignore=shutil.ignore_patterns("expected.txt"))
        for cmd in ("plan", "apply"):
            code, out, err = run(binary, [cmd], work)
            got = err.rstrip("\n").split("\n") if err else []
            if code != 2:
                res.fail(f"larder {cmd}: exit {code}, expected 2")
            if got != expected:
                res.fail(f"larder {cmd}: stderr differs")
                res.notes.append("--- expected")
                res.notes.extend(expected)
                res.notes.append("--- got")
                res.notes.extend(got)
        code, out, err = run(binary, ["registry", "history"], work)
        if "no registry versions" not in out and code == 0:
            res.fail("apply of a broken repository created a registry version:\n" + out)


def parse_case(path):
    steps = []
    meta = {}
    cur = None
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("desc:") or line.startswith("repo:"):
                k, v = line.split(":", 1)
                meta[k] = v.strip()
            elif line.startswith("$ ") or line.startswith("sh: "):
                cur = {"kind": "larder" if line.startswith("$ ") else "sh",
                       "cmd": line[2:] if line.startswith("$ ") else line[4:],
                       "exit": 0, "out": None, "out_has": [], "out_not": [],
                       "err": None, "err_has": []}
                steps.append(cur)
            elif cur is None:
                raise ValueError(f"{path}: expectation before any step: {line}")
            elif line.startswith("? "):
                cur["exit"] = int(line[2:])
            elif line.startswith(">* "):
                cur["out_has"].append(line[3:])
            elif line.startswith(">! "):
                cur["out_not"].append(line[3:])
            elif line == ">" or line.startswith("> "):
                cur["out"] = (cur["out"] or []) + [line[2:]]
            elif line.startswith("!* "):
                cur["err_has"].append(line[3:])
            elif line == "!" or line.startswith("! "):
                cur["err"] = (cur["err"] or []) + [line[2:]]
            else:
                raise ValueError(f"{path}: cannot parse line: {line}")
    return meta, steps


def check_case(binary, root, path, res):
    meta, steps = parse_case(path)
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, "repo")
        if "repo" in meta:
            src = os.path.join(root, meta["repo"])
            shutil.copytree(src, work, ignore=shutil.ignore_patterns("registry.db*", "online.db*"))
        else:
            os.makedirs(work)
        real = os.path.realpath(work)
        for st in steps:
            cmd = st["cmd"].replace("{DIR}", real)
            for k in ("out", "out_has", "out_not", "err", "err_has"):
                if st[k] is not None:
                    st[k] = [x.replace("{DIR}", real) for x in st[k]]
            if st["kind"] == "sh":
                cmd = cmd.replace("{LARDER}", shlex.quote(binary))
                p = subprocess.run(cmd, shell=True, cwd=work, capture_output=True, text=True,
                                   timeout=300)
                code, out, err = p.returncode, p.stdout, p.stderr
                ctx = f"sh: {cmd}"
            else:
                args = shlex.split(cmd)
                if not args or args[0] != "larder":
                    raise ValueError(f"{path}: steps must start with 'larder': {cmd}")
                code, out, err = run(binary, args[1:], work)
                ctx = f"$ {cmd}"
            if code != st["exit"]:
                res.fail(f"{ctx}: exit {code}, expected {st['exit']}\nstdout:\n{out}stderr:\n{err}")
                return
            got_out = out.rstrip("\n").split("\n") if out else []
            if st["out"] is not None and got_out != st["out"]:
                res.fail(f"{ctx}: stdout differs\n--- expected\n" + "\n".join(st["out"]) +
                         "\n--- got\n" + "\n".join(got_out))
            for t in st["out_has"]:
                if t not in out:
                    res.fail(f"{ctx}: stdout lacks {t!r}\n{out}")
            for t in st["out_not"]:
                if t in out:
                    res.fail(f"{ctx}: stdout unexpectedly has {t!r}\n{out}")
            got_err = err.rstrip("\n").split("\n") if err else []
            if st["err"] is not None and got_err != st["err"]:
                res.fail(f"{ctx}: stderr differs\n--- expected\n" + "\n".join(st["err"]) +
                         "\n--- got\n" + "\n".join(got_err))
            for t in st["err_has"]:
                if t not in err:
                    res.fail(f"{ctx}: stderr lacks {t!r}\n{err}")
            if not res.ok:
                return


def main():
    binary = os.path.abspath(sys.argv[1])
    root = os.path.abspath(sys.argv[2])
    tests = []
    broken = os.path.join(root, "tests", "data", "broken")
    for d in sorted(os.listdir(broken)) if os.path.isdir(broken) else []:
        tests.append(("broken/" + d, lambda r, d=d: check_broken(binary, os.path.join(broken, d), r)))
    cases = os.path.join(root, "tests", "integration", "cases")
    for c in sorted(os.listdir(cases)) if os.path.isdir(cases) else []:
        if c.endswith(".case"):
            tests.append(("case/" + c[:-5],
                          lambda r, c=c: check_case(binary, root, os.path.join(cases, c), r)))
    passed = failed = 0
    for i, (name, fn) in enumerate(tests, 1):
        res = Result()
        try:
            fn(res)
        except Exception as e:  # a broken test file is a failure, not a crash
            res.fail(f"exception: {e!r}")
        if res.ok:
            passed += 1
            print(f"ok {i} - {name}")
        else:
            failed += 1
            print(f"not ok {i} - {name}")
            for n in res.notes:
                for line in str(n).split("\n"):
                    print(f"#   {line}")
        sys.stdout.flush()
    print(f"1..{len(tests)}")
    print(f"# {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
