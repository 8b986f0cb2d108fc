"""What the torch-free Python tests share (webssl_test.py imports torch, so they cannot import it):
the record of their checks and the skip rule for a Python without the reference packages.

    from checks import check, finish, require
    h5py, np = require("h5py", "numpy")   # exit status 77 (a CTest skip) naming the missing one
    check(a == b, "what was compared")    # prints ok / FAIL and the line, counts a failure
    sys.exit(finish())                    # 1 with the count of failures, else 0"""
import importlib
import sys

_failed = []


def check(ok, what):
    """Prints `ok` or `FAIL` and what was checked; a failure is counted. Returns ok."""
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        _failed.append(what)
    return ok


def finish():
    """The exit status: 1 after printing how many checks failed, else 0."""
    print(f"{len(_failed)} failure(s)")
    return 1 if _failed else 0


def require(*names):
    """The modules named, imported (one module, or a tuple of them); a Python that lacks one (a
    bare node) skips the test with exit status 77, never fails it."""
    mods = []
    for name in names:
        try:
            mods.append(importlib.import_module(name))
        except ImportError as e:
            print(f"SKIP: {e.name} is not installed in {sys.executable}")
            sys.exit(77)
    return mods[0] if len(mods) == 1 else tuple(mods)
