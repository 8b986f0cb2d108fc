"""A failure among ranks can be found in the log: under mpirun -np 3, rank 2 stops on a failed
check and rank 0 logs an error; each line names its rank and host ("[rank 2/3 on HOST] error:
...fatal_where.c:LINE: assertion failed"), and the job ends within seconds (MPI_Abort) with a
non-zero status instead of hanging on the ranks still waiting.
usage: fatal_where.py PATH/fatal_where"""
import os
import socket
import subprocess
import sys
import time

tool = sys.argv[1]
mpiexec = os.environ.get("WEBSSL_MPIEXEC") or "mpirun"
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
start = time.time()
p = subprocess.run([mpiexec, "--oversubscribe", "--allow-run-as-root", "-np", "3", tool, "2"],
                   capture_output=True, text=True, env=env, timeout=50)
seconds = time.time() - start
host = socket.gethostname()
lines = p.stderr.splitlines()
fatal = [l for l in lines if "assertion failed" in l]
error0 = [l for l in lines if "an error line of rank 0" in l]
print("\n".join(fatal + error0))
ok = True
for what, got, want in (("fatal line", fatal, f"[rank 2/3 on {host}] error: "),
                        ("error line", error0, f"[rank 0/3 on {host}] error: ")):
    good = len(got) == 1 and got[0].startswith(want) and (what != "fatal line" or "fatal_where.c:" in got[0])
    print(f"{'ok  ' if good else 'FAIL'} {what} starts with {want!r}")
    ok &= good
good = p.returncode != 0 and seconds < 40
print(f"{'ok  ' if good else 'FAIL'} the job stopped: status {p.returncode} after {seconds:.1f} s")
ok &= good
if not ok:
    print(p.stderr[-3000:])
sys.exit(0 if ok else 1)
