"""OpenBLAS's kernels match the CPU (src/backend/cpu/blas_core.c): with OPENBLAS_VERBOSE=2 OpenBLAS
prints the kernel set it loads ("Core: Haswell"); on a CPU with AVX2 and FMA the kernels webssl-dist
runs with must have them too, whatever OpenBLAS chose first (a CPU newer than the library gets its
SSE3 kernels, 'Prescott', and the program runs again with OPENBLAS_CORETYPE set). A value the user
sets is kept. The decision itself, for CPUs this machine is not, is checked in
test_gemm_paths.c (blas_core_choice).
Guards: a fix that never runs (fp32 GEMMs 3-4x slower on new CPUs), one that overrides the user, or
one that executes the program again and again."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from checks import check, finish  # noqa: E402

BIN = os.environ["WEBSSL_BIN"]
WIDE = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"}


def cores(extra_env):
    env = dict(os.environ, OPENBLAS_VERBOSE="2", **extra_env)
    if "OPENBLAS_CORETYPE" not in extra_env:
        env.pop("OPENBLAS_CORETYPE", None)
    p = subprocess.run([BIN, "--version"], capture_output=True, text=True, env=env, timeout=60)
    check(p.returncode == 0 and "webssl-dist" in p.stdout, f"webssl-dist --version runs ({p.returncode})")
    return [l.split(":", 1)[1].strip() for l in (p.stdout + p.stderr).splitlines() if l.startswith("Core:")]


flags = set()
with open("/proc/cpuinfo") as f:
    for line in f:
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
if not ({"avx2", "fma"} <= flags):
    print("SKIP: this CPU has no AVX2+FMA, so no OpenBLAS kernel choice can be wrong here")
    sys.exit(77)

seen = cores({})
if not seen:
    print("SKIP: this OpenBLAS prints no 'Core:' line under OPENBLAS_VERBOSE=2")
    sys.exit(77)
print(f"kernels loaded, in order: {seen}")
check(seen[-1] in WIDE, f"the kernels run with have AVX2 ({seen[-1]})")
check(len(seen) <= 2, f"executed again at most once ({len(seen)} loads)")
check(len(seen) == 1 or seen[0] not in WIDE, "executed again only when the first choice lacked AVX2")
user = cores({"OPENBLAS_CORETYPE": "Prescott"})
check(user == ["Prescott"], f"OPENBLAS_CORETYPE=Prescott kept, one load ({user})")
sys.exit(finish())
