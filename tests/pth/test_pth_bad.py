"""Bad-input test: malicious pickles (os.system, builtins.eval, subprocess.Popen, an unknown
class), malformed archives (truncated, overlapping entries, entries past the end, compressed
entries), storages shorter than their tensors, negative / overflowing shapes and strides, deep
nesting. Each must fail with exit status 1 and a message naming the problem, never crash, and
never run the payload.

usage: test_pth_bad.py PTH_DUMP WORKDIR"""
import collections
import os
import struct
import subprocess
import sys

try:
    import torch
except ImportError as e:  # a Python without the reference packages (a bare node): skip, never fail
    print(f"SKIP: {e.name} is not installed in {sys.executable}")
    sys.exit(77)

import pthgen

tool, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
marker = os.path.join(work, "payload_ran")
failures = 0


class Payload:
    """Pickles as a call of `fn(*args)`: what a malicious checkpoint does."""
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def expect(label, path, *needles):
    global failures
    rc, out, err = pthgen.run_dump(tool, path)
    ok = rc == 1 and all(n in err for n in needles) and not os.path.exists(marker)
    print(f"{label:22s} exit {rc}: {err.strip()[:300]}  -> {'ok' if ok else 'FAIL (wanted ' + repr(needles) + ')'}")
    failures += not ok


def path(name):
    return os.path.join(work, name)


good = collections.OrderedDict([("a", torch.randn(4, 6)), ("b", torch.randn(3))])
torch.save(good, path("good.pth"))
raw = open(path("good.pth"), "rb").read()

# Code execution attempts: the global is named and refused before anything could run.
torch.save({"a": torch.zeros(2), "x": Payload(os.system, (f"touch {marker}",))}, path("system.pth"))
expect("os.system", path("system.pth"), "refusing global", "system")
torch.save({"x": Payload(eval, (f"open({marker!r}, 'w')",))}, path("eval.pth"))
expect("builtins.eval", path("eval.pth"), "refusing global 'builtins.eval'")
torch.save({"x": Payload(subprocess.Popen, (["touch", marker],))}, path("popen.pth"))
expect("subprocess.Popen", path("popen.pth"), "refusing global 'subprocess.Popen'")
torch.save({"x": collections.Counter("ab")}, path("counter.pth"))
expect("collections.Counter", path("counter.pth"), "refusing global 'collections.Counter'")
pthgen.write_pth(path("stack_global.pth"), b"\x80\x04" + pthgen.op_str("os") + pthgen.op_str("system") +
                 b"\x93" + pthgen.op_str("true") + b"\x85R.", {})
expect("STACK_GLOBAL os.system", path("stack_global.pth"), "refusing global 'os.system'")
pthgen.write_pth(path("inst.pth"), b"\x80\x02(ios\nsystem\n.", {})
expect("INST opcode", path("inst.pth"), "opcode 0x69 is not accepted")

# Archive damage.
with open(path("truncated.pth"), "wb") as f:
    f.write(raw[: len(raw) // 2])
expect("truncated archive", path("truncated.pth"), "end-of-central-directory record not found")
with open(path("tiny.pth"), "wb") as f:
    f.write(b"PK\x03\x04")
expect("4-byte archive", path("tiny.pth"), "not a zip archive")

recs = pthgen.central_records(raw)
first_header = struct.unpack_from("<I", raw, recs[0][0] + 42)[0]
bad = bytearray(raw)
struct.pack_into("<I", bad, recs[1][0] + 42, first_header)   # entry 2 claims entry 1's bytes
open(path("overlap.pth"), "wb").write(bad)
expect("overlapping entries", path("overlap.pth"), "overlaps")

bad = bytearray(raw)
struct.pack_into("<II", bad, recs[1][0] + 20, 1 << 30, 1 << 30)   # sizes past the end
open(path("past_end.pth"), "wb").write(bad)
expect("entry past the end", path("past_end.pth"), "points past the end")

bad = bytearray(raw)
struct.pack_into("<I", bad, raw.rfind(b"PK\x05\x06") + 16, len(raw))   # central directory past the end,
struct.pack_into("<Q", bad, raw.rfind(b"PK\x06\x06") + 48, len(raw))   # in both end records torch writes
open(path("cd_past_end.pth"), "wb").write(bad)
expect("directory past the end", path("cd_past_end.pth"), "central directory")

pthgen.write_pth(path("deflated.pth"), raw, {}, compress=True)
expect("compressed entries", path("deflated.pth"), "compressed")

with open(path("nopickle.pth"), "wb") as f:
    import zipfile
    with zipfile.ZipFile(f, "w") as z:
        z.writestr("archive/weights.bin", b"0" * 16)
expect("no data.pkl", path("nopickle.pth"), "data.pkl")

# Storages and tensor geometry.
data = struct.pack("<8f", *range(8))
pthgen.write_pth(path("big_endian.pth"), pthgen.pickle_dict([("w", pthgen.op_tensor("0", 8, 0, (8,), (1,)))]),
                 {"0": data}, extra={"byteorder": b"big"})
expect("big-endian storages", path("big_endian.pth"), "not little-endian")
pthgen.write_pth(path("short_storage.pth"),
                 pthgen.pickle_dict([("w", pthgen.op_tensor("0", 100, 0, (10, 10), (10, 1)))]), {"0": data})
expect("storage shorter", path("short_storage.pth"), "'w'", "claims 100 elements", "holds 32 bytes")
pthgen.write_pth(path("missing_storage.pth"),
                 pthgen.pickle_dict([("w", pthgen.op_tensor("7", 8, 0, (8,), (1,)))]), {"0": data})
expect("storage missing", path("missing_storage.pth"), "'w'", "archive/data/7", "missing")
pthgen.write_pth(path("stride_past.pth"),
                 pthgen.pickle_dict([("w", pthgen.op_tensor("0", 8, 0, (4, 4), (4, 1)))]), {"0": data})
expect("strides past storage", path("stride_past.pth"), "reaches element 15", "holds 8")
pthgen.write_pth(path("offset_past.pth"),
                 pthgen.pickle_dict([("w", pthgen.op_tensor("0", 8, 6, (4,), (1,)))]), {"0": data})
expect("offset past storage", path("offset_past.pth"), "reaches element 9")
pthgen.write_pth(path("neg_shape.pth"),
                 pthgen.pickle_dict([("w", pthgen.op_tensor("0", 8, 0, (-2, 4), (4, 1)))]), {"0": data})
expect("negative shape", path("neg_shape.pth"), "size[0] is negative")
pthgen.write_pth(path("neg_stride.pth"),
                 pthgen.pickle_dict([("w", pthgen.op_tensor("0", 8, 0, (2, 4), (4, -1)))]), {"0": data})
expect("negative stride", path("neg_stride.pth"), "stride[1] is negative")
pthgen.write_pth(path("overflow.pth"),
                 pthgen.pickle_dict([("w", pthgen.op_tensor("0", 8, 0, (1 << 62, 8), (1 << 62, 1)))]), {"0": data})
expect("overflowing shape", path("overflow.pth"), "overflows")
pthgen.write_pth(path("numel_overflow.pth"),
                 pthgen.pickle_dict([("w", pthgen.op_tensor("0", (1 << 63) - 1, 0, (2,), (1,)))]), {"0": data})
expect("storage size overflow", path("numel_overflow.pth"), "claims")
pthgen.write_pth(path("rank9.pth"),
                 pthgen.pickle_dict([("w", pthgen.op_tensor("0", 8, 0, (1,) * 9, (1,) * 9))]), {"0": data})
expect("rank 9", path("rank9.pth"), "rank 9")

# Pickle structure.
pthgen.write_pth(path("deep_marks.pth"), b"\x80\x02" + b"(" * 100000 + b".", {})
expect("deep MARK nesting", path("deep_marks.pth"), "nested deeper")
pthgen.write_pth(path("deep_tuples.pth"), b"\x80\x02N" + b"\x85" * 100000 + b".", {})
expect("deep tuple nesting", path("deep_tuples.pth"), "nested deeper")
pthgen.write_pth(path("no_stop.pth"), b"\x80\x02}(" + pthgen.op_str("a"), {})
expect("pickle without STOP", path("no_stop.pth"), "without STOP")
pthgen.write_pth(path("memo.pth"), b"\x80\x02h\x05.", {})
expect("memo read before write", path("memo.pth"), "memo entry 5")
pthgen.write_pth(path("memo_big.pth"), b"\x80\x02Nr\xff\xff\xff\x7f.", {})
expect("memo index too large", path("memo_big.pth"), "memo index")
pthgen.write_pth(path("long_string.pth"), b"\x80\x02X\xff\xff\xff\x7f", {})
expect("string past the end", path("long_string.pth"), "runs past the end")
pthgen.write_pth(path("underflow.pth"), b"\x80\x02s.", {})
expect("stack underflow", path("underflow.pth"), "stack underflow")
pthgen.write_pth(path("cyclic.pth"), b"\x80\x02}q\x00(" + pthgen.op_str("a") + b"h\x00u.", {})
expect("dict containing itself", path("cyclic.pth"), "contains itself")
# {"a": d, "b": d} with d = {"x": {...}}: shared subtrees (and the exponential walks they allow)
pthgen.write_pth(path("shared.pth"), b"\x80\x02}(" + pthgen.op_str("a") + b"}q\x00" + pthgen.op_str("b") +
                 b"h\x00u.", {})
expect("shared dict", path("shared.pth"), "under 'a' appears more than once")
pthgen.write_pth(path("not_dict.pth"), b"\x80\x02N.", {})
expect("top level not a dict", path("not_dict.pth"), "not a dict")

# The legacy (non-zip) layout: pickles in a row, then count + bytes per storage.
def legacy(name, obj):
    torch.save(obj, path(name), _use_new_zipfile_serialization=False)
    return open(path(name), "rb").read()


leg = legacy("legacy.pth", good)
rc, out, err = pthgen.run_dump(tool, path("legacy.pth"))
print(f"{'legacy layout, good':22s} exit {rc}  -> {'ok' if rc == 0 else 'FAIL: ' + err[:300]}")
failures += rc != 0
legacy("legacy_system.pth", {"a": torch.zeros(2), "x": Payload(os.system, (f"touch {marker}",))})
expect("legacy os.system", path("legacy_system.pth"), "refusing global", "system")
for label, data, needle in [
        ("legacy truncated", leg[:-20], "bytes are left"),
        ("legacy cut in pickles", leg[:120], "legacy"),
        ("legacy huge count", leg[:leg.rfind(struct.pack("<q", 24))] + struct.pack("<q", 1 << 60) +
         leg[leg.rfind(struct.pack("<q", 24)) + 8:], "claims"),
        ("legacy version", leg[:15] + leg[15:21].replace(b"\xe9\x03", b"\xea\x03") + leg[21:], "protocol version"),
        ("legacy big-endian", leg.replace(b"little_endianq\x02\x88", b"little_endianq\x02\x89", 1), "little-endian")]:
    assert data != leg, label
    with open(path("legacy_bad.pth"), "wb") as f:
        f.write(data)
    expect(label, path("legacy_bad.pth"), needle)

print("FAILED" if failures else "every bad input refused with a clear message", f"({failures} failures)")
sys.exit(1 if failures else 0)
