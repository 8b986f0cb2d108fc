"""The flag tables of every command (src/cli/flags.h): `webssl-dist CMD --help` lists each flag,
every flag it lists is accepted by the parser (a bad value is refused naming that flag, never as
an unknown option), bounds and dtype spellings are enforced with a message naming the flag, and
unknown, missing and repeated flags are refused with exit status 1 before any work."""
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from checks import check, finish  # noqa: E402

BIN = os.environ["WEBSSL_BIN"]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1")


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, env=ENV, timeout=60)
    return p.returncode, p.stdout, p.stderr


def refused(args, *needles):
    """args exit with status 1 and a one-line message on stderr holding every needle."""
    rc, out, err = run(*args)
    ok = rc == 1 and all(n in err for n in needles) and "usage:" not in err
    check(ok, f"{' '.join(args)!r} refused naming {needles}" + ("" if ok else f": rc {rc}, stderr {err.strip()!r}"))


rc, out, _ = run("--help")
commands = re.findall(r"^  (\S+)\s", out.split("commands:")[1], re.M)
check(rc == 0 and {"embed", "bench", "preprocess", "cost", "convert", "inspect", "index", "models"} <= set(commands),
      f"webssl-dist --help lists the commands: {commands}")

# A bad value for each flag that takes one: the message names the flag (so the parser knows every
# flag the usage shows), never "unknown option".
BAD = "-7x"
jobs = []   # (what, args): run side by side, most of their time is MPI start-up
for cmd in commands:
    rc, out, err = run(cmd, "--help")
    check(rc == 0 and out.startswith(f"usage: webssl-dist {cmd}") and not err, f"{cmd} --help")
    flags = re.findall(r"^  (--[a-z0-9-]+)( \S+)?", out, re.M)
    check(len(flags) > 0 or cmd in ("index", "verify"), f"{cmd} --help lists {len(flags)} flags")
    jobs += [(flag, (cmd, flag, BAD)) for flag, meta in flags if meta]
    jobs.append((None, (cmd, "--frobnicate", "1")))
with ThreadPoolExecutor(8) as pool:
    results = list(pool.map(lambda job: run(*job[1]), jobs))
for (flag, args), (rc, _, err) in zip(jobs, results):
    if flag is None:
        check(rc == 1 and "unknown option '--frobnicate'" in err and f"webssl-dist {args[0]} --help" in err,
              f"{args[0]} --frobnicate refused: {err.strip()!r}")
        continue
    # String flags take any value; the command then fails on it, or on a missing required flag.
    named = rc == 1 and flag in err and "unknown option" not in err
    check(named or (rc == 1 and "unknown option" not in err), f"{' '.join(args)}: {err.strip()[:100]!r}")

# Bounds, one table for every command.
refused(["embed", "--model", "m", "--input", "i", "--output", "o", "--batch", "0"], "--batch '0'", "[1, 65536]")
refused(["bench", "--arch", "tiny-dino", "--batch", "65537"], "--batch '65537'", "[1, 65536]")
refused(["cost", "--arch", "published", "--batch", "0"], "--batch '0'", "[1, 65536]")
refused(["preprocess", "--input", "i", "--output", "o.h5", "--batch", "x"], "--batch 'x'")
refused(["embed", "--model", "m", "--input", "i", "--output", "o", "--threads", "-1"], "--threads '-1'", "[0, 4096]")
refused(["bench", "--arch", "tiny-dino", "--threads", "5000"], "--threads '5000'")
refused(["embed", "--model", "m", "--input", "i", "--output", "o", "--retry-wait", "1e9"], "--retry-wait", "seconds")
refused(["embed", "--model", "m", "--input", "i", "--output", "o", "--max-shard-bytes", "3X"], "--max-shard-bytes '3X'")
refused(["cost", "--arch", "published", "--efficiency", "2"], "--efficiency '2'", "(0, 1]")
refused(["cost", "--arch", "published", "--peak-gflops", "0"], "--peak-gflops '0'")
refused(["cost", "--arch", "published", "--device-memory", "lots"], "--device-memory 'lots'")
refused(["cost", "--arch", "published", "--tp", "0"], "--tp '0'")

# One dtype spelling: fp32/bf16 (fp16) everywhere; the short forms still accepted.
refused(["embed", "--model", "m", "--input", "i", "--output", "o", "--dtype", "f16"], "--dtype 'f16'", "fp32 or bf16")
refused(["embed", "--model", "m", "--input", "i", "--output", "o", "--out-dtype", "bf16"], "--out-dtype", "fp16 or fp32")
refused(["bench", "--arch", "tiny-dino", "--allreduce", "fp16"], "--allreduce 'fp16'", "fp32 or bf16")
refused(["cost", "--arch", "published", "--dtype", "half"], "--dtype 'half'", "fp32 or bf16")
refused(["convert", "a", "b", "--dtype", "int8"], "--dtype 'int8'", "fp32, bf16 or fp16")
for cmd in ("embed", "bench"):
    _, out, _ = run(cmd, "--help")
    check("--dtype fp32|bf16" in out and "--allreduce fp32|bf16" in out and " f32" not in out and "f16|" not in out,
          f"{cmd} --help spells the dtypes fp32/bf16/fp16")
rc, out, err = run("cost", "--arch", "tiny-dino", "--dtype", "f32", "--tp", "1", "--csv")
check(rc == 0 and ",fp32," in out, f"cost accepts --dtype f32 and prints fp32: {err.strip()!r}")

# --threads is compute threads everywhere; preprocess decodes with --decode-threads.
_, out, _ = run("preprocess", "--help")
check("--decode-threads" in out and "--threads" not in out.replace("--decode-threads", ""),
      "preprocess has --decode-threads and no --threads")
refused(["preprocess", "--input", "i", "--output", "o.h5", "--threads", "2"], "unknown option '--threads'")

# Values, requirements, repetitions, positionals.
refused(["embed", "--input", "i", "--output", "o"], "--model is required")
refused(["bench", "--batch", "2"], "--arch is required")
refused(["embed", "--model", "m", "--input", "a", "--input", "b", "--output", "o"], "--input is given twice", "'a'", "'b'")
refused(["bench", "--arch"], "--arch needs a value")
refused(["embed", "--model", "m", "--input", "i", "--output", "o", "--device", "gpu"], "--device 'gpu'", "cpu or cuda")
refused(["embed", "--model", "m", "--input", "i", "--output", "o", "--preprocess", "wide"], "--preprocess 'wide'",
        "crop or square")
refused(["embed", "--model", "m", "--input", "i", "--output", "o", "--features", "cls,bogus"], "bogus")
refused(["embed", "--model", "m", "--input", "i", "--output", "o", "--head", "h.pth"], "--head h.pth")
refused(["index"], "DIR is required")
refused(["index", "a", "b"], "unexpected argument 'b'")
refused(["verify"], "DIR is required")
refused(["verify", "a", "b"], "unexpected argument 'b'")
refused(["export", "d"], "--output is required")
refused(["export", "d", "--output", "o.h5", "--range", "5"], "--range '5'", "a:b")
refused(["export", "d", "--output", "o.h5", "--range", "1:x"], "--range 'x'")
refused(["export", "d", "--output", "o.h5", "--level", "12"], "--level '12'")
refused(["convert", "only-in"], "OUT is required")
refused(["inspect", "p", "q"], "unexpected argument 'q'")
refused(["models", "extra"], "unexpected argument 'extra'")
_, out, _ = run("embed", "--help")
check("--batch B" in out and "[32]" in out and "[64G]" in out and "[cls,patch_mean]" in out,
      "embed --help shows the defaults from the options")

sys.exit(finish())
