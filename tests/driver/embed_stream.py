"""Streamed shards (http://, pipe:) for `webssl-dist embed`, against a real local HTTP server
(tests/driver/stream_server.py, 127.0.0.1 only) and real commands:
  - the same tar shards read from local files, over HTTP (plain, Range-resumed after a dropped
    connection, after one 500), through pipe:cat, at dp 1 and dp 2: every dataset and every
    attribute but `source` identical to the local run;
  - credentials in the URL (user:password@, query string) appear in no log line, no run.json and
    no output byte; `source` holds the redacted URL;
  - failures: 404, redirect loop, unsupported scheme, unresolvable host, Content-Length shorter
    than the body, an endless body over --max-shard-bytes, a stalled server past --io-timeout,
    a missing file under pipe:cat, a command killed after its output, a command writing garbage:
    exit status 2, each listed with its reason, no output for them, the good shards written, no
    temporary file left; a rerun skips the good shards and tries the failed ones again;
  - streams that end early: an empty body, a tar without its end-of-archive blocks (none, or
    only one), a connection dripping 64 bytes/s (under --min-rate), a file whose ETag changes
    between a dropped transfer and its Range resume, a certificate that does not verify (not
    retried), `pipe:` commands that print nothing, stop at a member boundary or inside a member,
    or exit 3 after the whole tar: each a failed shard (exit 2), no file, fetched again by the rerun;
  - the manifest of a URL's shard records its size, ETag and Last-Modified (HEAD): a rerun
    skips an unchanged one without a GET, redoes a replaced one, and a server that refuses HEAD
    (405) still works;
  - SIGTERM while every open shard's server stalls: exit status 3 at once (no wait for the
    --io-timeout), no file left.
usage: embed_stream.py WORKDIR"""
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time

import h5py
import numpy as np

from embed_common import make_images, run_embed, temp_files
from webssl_test import BIN, ENV, fresh_dir, tiny_model
from stream_server import Server

work = fresh_dir(sys.argv[1])
imgs = os.path.join(work, "img")
make_images(imgs, 15, bad=["img0007_bad.jpg"])
tars = fresh_dir(os.path.join(work, "tars"))
names = sorted(os.listdir(imgs))
for s in range(3):
    with tarfile.open(os.path.join(tars, f"{s:04d}.tar"), "w", format=tarfile.USTAR_FORMAT) as t:
        for n in names[s * 6:(s + 1) * 6]:
            t.add(os.path.join(imgs, n), arcname=n)
            info = tarfile.TarInfo(n.rsplit(".", 1)[0] + ".txt")
            info.size = 5
            t.addfile(info, __import__("io").BytesIO(b"hello"))
shutil.copy(os.path.join(tars, "0000.tar"), os.path.join(tars, "killed.tar"))
with open(os.path.join(tars, "garbage.tar"), "wb") as f:
    f.write(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
model = os.path.join(work, "dino")
tiny_model("dino", model, C=64, L=2, NH=4, img=56)
srv = Server(tars)
fails = 0


def check(cond, what):
    global fails
    print(f"  {'ok  ' if cond else 'FAIL'} {what}")
    fails += 0 if cond else 1


def args(spec, out, *extra):
    return ["--model", model, "--input", spec, "--output", out, "--batch", "4", "--preprocess", "square",
            "--resolution", "56", "--features", "cls,patch_mean,patch", "--threads", "1",
            "--retries", "2", "--retry-wait", "0.05"] + list(extra)


SOURCE_ATTRS = ("source", "manifest", "manifest_digest")


def contents(d):
    """{file: (datasets, attributes without those describing the input, source)} of the shard files
    in d. The source and its manifest (a local tar's size and time, a stream's redacted URL or
    command) differ by nature between a local and a streamed run."""
    out = {}
    for n in sorted(os.listdir(d)):
        if n.endswith(".h5") and not n.startswith("."):
            with h5py.File(os.path.join(d, n), "r") as f:
                ds = {k: f[k][:] for k in f.keys()}
                at = {k: f.attrs[k] for k in f.attrs.keys() if k not in SOURCE_ATTRS}
                out[n] = (ds, at, f.attrs["source"])
    return out


def same(ref, d, what, only=None):
    a, b = contents(ref), contents(d)
    keys = sorted(only if only is not None else a.keys())
    bad = []
    for n in keys:
        if n not in b:
            bad.append(n + " missing")
            continue
        (da, aa, _), (db, ab, _) = a[n], b[n]
        if da.keys() != db.keys() or any(not np.array_equal(da[k], db[k]) for k in da):
            bad.append(n + " datasets")
        if aa.keys() != ab.keys() or any(not np.array_equal(aa[k], ab[k]) for k in aa):
            bad.append(n + " attributes")
    check(keys and not bad, f"{what}: {len(keys)} shard files, datasets and attributes (but source) identical"
          + (f" (differ: {bad})" if bad else ""))
    return b


print("reference: local tar files")
ref = os.path.join(work, "local")
run_embed(1, args(os.path.join(tars, "{0000..0002}.tar"), ref))
r = contents(ref)
check(len(r) == 3 and sum(len(v[0]["key"]) for v in r.values()) == 16, f"{len(r)} shards written")

print("over HTTP")
t0 = time.time()
out = os.path.join(work, "http")
run_embed(1, args(srv.url + "/ok/{0000..0002}.tar", out))
b = same(ref, out, f"http://.../ok/{{0000..0002}}.tar ({time.time() - t0:.1f} s)")
check(b["0001.h5"][2] == f"{srv.url}/ok/0001.tar", f"source attribute is the URL ({b['0001.h5'][2]})")

out = os.path.join(work, "http-retry")
p = run_embed(1, args(srv.url + "/{drop/0000,err500/0001,drop/0002}.tar", out))
same(ref, out, "dropped halfway / 500 once / dropped (Range resume)")
check(srv.hits["/drop/0000.tar"] == 2 and srv.hits["/err500/0001.tar"] == 2,
      f"one retry each ({dict((k, v) for k, v in srv.hits.items() if 'drop' in k or '500' in k)})")
check("retry 1 of 2" in p.stderr and "HTTP status 500" in p.stderr, "retries logged with the reason")

out = os.path.join(work, "http-dp2")
run_embed(2, args(srv.url + "/range/{0000..0002}.tar", out))
same(ref, out, "http at dp 2")

print("credentials")
out = os.path.join(work, "http-cred")
spec = f"http://alice:s3cr3tpw@127.0.0.1:{srv.port}/ok/{{0000..0002}}.tar?X-Amz-Signature=t0k3nval"
p = run_embed(1, args(spec, out, "--retries", "0"))
same(ref, out, "URL with user:password and a signed query")
blobs = [open(os.path.join(out, n), "rb").read() for n in os.listdir(out) if os.path.isfile(os.path.join(out, n))]
leaked = [s for s in (b"s3cr3tpw", b"t0k3nval") if any(s in x for x in blobs) or s.decode() in p.stdout + p.stderr]
check(not leaked, f"no credential in the log, run.json or the outputs (leaked: {leaked})")
src = contents(out)["0000.h5"][2]
check(src == f"http://***@127.0.0.1:{srv.port}/ok/0000.tar?***", f"source attribute redacted ({src})")

print("pipe:")
out = os.path.join(work, "pipe")
run_embed(1, args("pipe:cat " + os.path.join(tars, "{0000..0002}.tar"), out))
same(ref, out, "pipe:cat")
out = os.path.join(work, "pipe-dp2")
run_embed(2, args("pipe:cat " + os.path.join(tars, "{0000..0002}.tar"), out))
same(ref, out, "pipe:cat at dp 2")

print("failures")
lst = os.path.join(work, "mixed.txt")
bad = {
    "b404": f"{srv.url}/404/b404.tar",
    "bloop": f"{srv.url}/loop/bloop.tar",
    "bftp": "ftp://127.0.0.1/bftp.tar",
    "bdns": "http://no-such-host.invalid/bdns.tar",
    "0001": f"{srv.url}/excess/0001.tar",
    "huge": f"{srv.url}/endless/huge.tar",
    "0002": f"{srv.url}/stall/0002.tar",
    "bmissing": "pipe:cat " + os.path.join(tars, "bmissing.tar"),
    "killed": "pipe:cat " + os.path.join(tars, "killed.tar") + "; kill -9 $$",
    "garbage": "pipe:cat " + os.path.join(tars, "garbage.tar"),
}
reasons = {"b404": "HTTP status 404", "bloop": "redirects", "bftp": "unsupported URL scheme 'ftp'",
           "bdns": "resolve", "0001": "truncated", "huge": "--max-shard-bytes", "0002": "no data|too slow|timeout|Timeout",
           "bmissing": "exited with status 1", "killed": "signal 9", "garbage": "tar"}
with open(lst, "w") as f:
    f.write("# local and streamed shards\n" + os.path.join(tars, "0000.tar") + "\n")
    f.write("\n".join(bad.values()) + "\n")
out = os.path.join(work, "mixed")
t0 = time.time()
p = run_embed(1, args("@" + lst, out, "--io-timeout", "1", "--max-shard-bytes", "4M"), expect=2)
took = time.time() - t0
got = contents(out)
check(list(got) == ["0000.h5"], f"only the good shard written ({list(got)}), in {took:.1f} s")
same(ref, out, "the good shard of the mixed list", only=["0000.h5"])
import re  # noqa: E402
for name, why in reasons.items():
    lines = [l for l in p.stderr.splitlines() if f"shard {name} " in l and "no output" in l or
             f"shard {name} (" in l]
    ok = any(re.search(why, l) for l in lines)
    check(ok, f"{name}: failed with reason /{why}/" + ("" if ok else f" (log: {lines[:2]})"))
check("failed shard: b404 (" in p.stderr, "failed shards listed")
check(not temp_files(out), "no temporary file left")
hits = srv.heads["/404/b404.tar"]
check(hits == 3, f"404 (to the HEAD request of its manifest) tried 1 + 2 retries ({hits})")
p = run_embed(1, args("@" + lst, out, "--io-timeout", "1", "--max-shard-bytes", "4M"), expect=2)
check(srv.heads["/404/b404.tar"] == 6 and "1 already done" in p.stderr,
      "a rerun skips the good shard and retries the failed ones")

print("streams that end early, drip, change or do not verify")
for n in ("eempty", "enoend", "eonezero", "edrip", "eflip", "pnoend", "pcut", "pfail"):
    shutil.copy(os.path.join(tars, "0001.tar"), os.path.join(tars, n + ".tar"))
end = __import__("stream_server").members_end(os.path.join(tars, "pnoend.tar"))
tls = Server(tars, tls=fresh_dir(os.path.join(work, "tls")))
early = {
    "eempty": (f"{srv.url}/empty/eempty.tar", "the body is empty"),
    "enoend": (f"{srv.url}/noend/enoend.tar", "without its end-of-archive blocks"),
    "eonezero": (f"{srv.url}/onezero/eonezero.tar", "without its end-of-archive blocks"),
    "edrip": (f"{srv.url}/drip/edrip.tar", "too slow"),
    "eflip": (f"{srv.url}/flip/eflip.tar", "changed during the transfer"),
    "etls": (f"{tls.url}/ok/etls.tar", "certificate"),
    "pnothing": ("pipe:true pnothing.tar", "the body is empty"),
    "pnoend": (f"pipe:head -c {end} {os.path.join(tars, 'pnoend.tar')}", "without its end-of-archive blocks"),
    "pcut": (f"pipe:head -c {end - 700} {os.path.join(tars, 'pcut.tar')}", "[Tt]runcated"),
    "pfail": (f"pipe:cat {os.path.join(tars, 'pfail.tar')}; exit 3", "exited with status 3"),
}
shutil.copy(os.path.join(tars, "0001.tar"), os.path.join(tars, "etls.tar"))
lst = os.path.join(work, "early.txt")
with open(lst, "w") as f:
    f.write(f"{srv.url}/ok/0000.tar\n" + "\n".join(u for u, _ in early.values()) + "\n")
out = os.path.join(work, "early")
t0 = time.time()
p = run_embed(1, args("@" + lst, out, "--io-timeout", "2"), expect=2)
took = time.time() - t0
got = contents(out)
check(list(got) == ["0000.h5"], f"only the good shard written ({list(got)}), in {took:.1f} s")
for name, (_, why) in early.items():
    lines = [l for l in p.stderr.splitlines() if f"shard {name} (" in l]
    ok = any(re.search(why, l) for l in lines) and f"failed shard: {name} (" in p.stderr
    check(ok, f"{name}: failed shard, reason /{why}/" + ("" if ok else f" (log: {lines[:2]})"))
tls_retries = [l for l in p.stderr.splitlines() if "etls" in l and "retry" in l]
check(not tls_retries, f"the certificate error is not retried ({tls_retries[:1]})")
drip_tries = [l for l in p.stderr.splitlines() if "edrip" in l and "retry" in l]
check(len(drip_tries) == 2, f"the dripping connection is ended and retried ({len(drip_tries)} retries)")
check(not temp_files(out), "no temporary file left")
before = (srv.hits["/empty/eempty.tar"], srv.hits["/noend/enoend.tar"])
p = run_embed(1, args("@" + lst, out, "--io-timeout", "2"), expect=2)
check(srv.hits["/empty/eempty.tar"] == before[0] + 1 and srv.hits["/noend/enoend.tar"] == before[1] + 1
      and "1 already done" in p.stderr and list(contents(out)) == ["0000.h5"],
      "the rerun fetches each again (and fails it again)")
tls.close()

print("a changed remote tar is redone on resume")
vdir = fresh_dir(os.path.join(work, "versions"))
for n in ("v0", "v1"):
    shutil.copy(os.path.join(tars, "0000.tar"), os.path.join(vdir, n + ".tar"))
vsrv = Server(vdir)
out = os.path.join(work, "versioned")
spec = vsrv.url + "/ok/{v0,v1}.tar"
run_embed(1, args(spec, out))
with h5py.File(os.path.join(out, "v1.h5"), "r") as f:
    manifest = f.attrs["manifest"]
size = os.path.getsize(os.path.join(vdir, "v1.tar"))
check(re.search(rf"\nremote\t{size}\t\"[0-9a-f]{{16}}\"\t\w\w\w, \d\d \w\w\w \d{{4}} [\d:]+ GMT\n", manifest),
      f"the manifest records size, ETag and Last-Modified ({manifest.splitlines()[-1]!r})")
gets = dict(vsrv.hits)
p = run_embed(1, args(spec, out))
check("2 already done" in p.stderr and dict(vsrv.hits) == gets and vsrv.heads["/ok/v1.tar"] == 3,
      f"unchanged: skipped with one HEAD each and no GET (HEADs of v1: {vsrv.heads['/ok/v1.tar']})")
shutil.copy(os.path.join(tars, "0002.tar"), os.path.join(vdir, "v1.tar"))
p = run_embed(1, args(spec, out))
redo = [l for l in p.stderr.splitlines() if "redoing it" in l]
check(len(redo) == 1 and "shard v1: redoing it, its inputs changed" in redo[0] and "remote" in redo[0]
      and vsrv.hits["/ok/v1.tar"] == gets["/ok/v1.tar"] + 1 and vsrv.hits["/ok/v0.tar"] == gets["/ok/v0.tar"],
      f"v1 replaced: redone, v0 kept ({redo[:1]})")
with h5py.File(os.path.join(out, "v1.h5"), "r") as f, h5py.File(os.path.join(ref, "0002.h5"), "r") as g:
    check(np.array_equal(f["key"][:], g["key"][:]) and np.array_equal(f["cls"][:], g["cls"][:]),
          "v1.h5 now holds the rows of the new tar")
out = os.path.join(work, "nohead")
run_embed(1, args(vsrv.url + "/nohead/v0.tar", out))
p = run_embed(1, args(vsrv.url + "/nohead/v0.tar", out))
with h5py.File(os.path.join(out, "v0.h5"), "r") as f:
    line = f.attrs["manifest"].splitlines()[-1]
check(line == "remote\t-\t-\t-" and "1 already done" in p.stderr,
      f"HEAD refused (405): manifest '{line}', the shard read and then kept")
vsrv.close()

print("stop while every open shard's server stalls")
out = os.path.join(work, "stopped")
p = subprocess.Popen([BIN, "embed"] + args(srv.url + "/stall/{0000..0002}.tar", out), env=ENV,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
t0 = time.time()   # until the shards are open (temporary files exist), however busy the machine
while time.time() - t0 < 60 and not (os.path.isdir(out) and temp_files(out)):
    time.sleep(0.05)
time.sleep(1)
t0 = time.time()
p.send_signal(signal.SIGTERM)
try:
    p.communicate(timeout=30)
except subprocess.TimeoutExpired:
    p.kill()
    p.communicate()
took = time.time() - t0
check(p.returncode == 3 and took < 5, f"SIGTERM: exit {p.returncode} (3 wanted) after {took:.2f} s (< 5 s wanted)")
check(not contents(out) and not temp_files(out), "no shard file, no temporary file")

srv.close()
print("FAILED" if fails else "all ok")
sys.exit(1 if fails else 0)
