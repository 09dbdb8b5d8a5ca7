"""Run several ``python -m servicecircle ARGS`` command lines, each in its own process, for one import.

``python -m servicecircle`` spends ~2 s importing the package (its ``__init__`` imports the whole
pipeline) before it reads a single argument. This script imports the package once, then forks one
child per command line; each child runs the package's ``__main__`` exactly as ``-m`` does
(``runpy``, ``sys.argv`` set, its own working folder, stdout and stderr to files) and exits with the
code an interpreter would give (an uncaught exception printed as a traceback and exit code 1).

    python tests/forked_cli.py JOBS.json

``JOBS.json``: a list of ``{"args": [...], "cwd": "...", "stdout": "...", "stderr": "..."}``; the exit
codes are printed as a JSON list, in order.
"""

import json
import os
import runpy
import sys
import traceback

import servicecircle  # noqa: F401 (what every `python -m servicecircle` imports first)


def _child(job) -> int:
    os.chdir(job["cwd"])
    for fd, path in ((1, job["stdout"]), (2, job["stderr"])):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
    sys.argv = ["servicecircle", *job["args"]]
    sys.path[0] = os.getcwd()  # as -m does
    try:
        runpy.run_module("servicecircle", run_name="__main__", alter_sys=True)
        return 0
    except SystemExit as exc:  # the interpreter's handling of SystemExit
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:  # the interpreter's handling of an uncaught exception
        traceback.print_exc()
        return 1


def main(path: str) -> None:
    codes = []
    for job in json.loads(open(path, encoding="utf-8").read()):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _child(job)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        codes.append(os.waitstatus_to_exitcode(status))
    print(json.dumps(codes))


if __name__ == "__main__":
    main(sys.argv[1])
