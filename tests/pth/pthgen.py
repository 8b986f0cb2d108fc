"""Helpers for the .pth tests: hand-assembled torch.save-style pickles and zip archives (for inputs
torch itself never writes: bad strides, short storages, zip64 records, overlapping entries), and a
runner for the pth_dump tool."""
import struct
import subprocess
import zipfile


def op_str(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def op_int(n):
    return b"\x8a\x08" + struct.pack("<q", n)   # LONG1 with 8 bytes: any int64


def op_tuple(items):
    return b"(" + b"".join(op_int(i) for i in items) + b"t"


def op_tensor(key, numel, offset, shape, stride, storage="FloatStorage"):
    """_rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict()) as torch writes it."""
    pid = b"((" + op_str("storage") + b"ctorch\n" + storage.encode() + b"\n" + op_str(key) + op_str("cpu") + \
        op_int(numel) + b"tQ"
    return b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid[1:] + op_int(offset) + op_tuple(shape) + \
        op_tuple(stride) + b"\x89ccollections\nOrderedDict\n)Rt" + b"R"


def pickle_dict(items):
    """A protocol-2 pickle of {name: tensor_ops}."""
    body = b"".join(op_str(k) + v for k, v in items)
    return b"\x80\x02}(" + body + b"u."


def write_pth(path, pkl, storages, compress=False, extra=None):
    """A torch.save-like archive: archive/data.pkl, archive/data/<key> (stored), archive/version,
    plus archive/<name> for each entry of `extra`."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as z:
        z.writestr("archive/data.pkl", pkl)
        for key, data in storages.items():
            z.writestr("archive/data/" + key, data)
        z.writestr("archive/version", b"3\n")
        for name, data in (extra or {}).items():
            z.writestr("archive/" + name, data)


def read_zip_entries(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def write_zip64(path, entries):
    """Stored entries whose central-directory sizes and offsets are all 0xffffffff with a zip64
    extra field, followed by a zip64 end record and locator: the form torch.save uses past 4 GiB."""
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        nb = name.encode()
        off = len(out)
        pad = (-(off + 30 + len(nb) + 4)) % 64          # align data to 64 bytes as torch does
        extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, 0, len(data), len(data), len(nb), len(extra))
        out += nb + extra + data
        z64 = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(nb), len(z64), 0, 0, 0, 0, 0xFFFFFFFF) + nb + z64
    cd_off = len(out)
    out += central
    eocd64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries), len(central), cd_off)
    out += struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(path, "wb") as f:
        f.write(out)


def central_records(data):
    """(offset of each central-directory record, its fields) of a plain (non-zip64) archive."""
    eocd = data.rfind(b"PK\x05\x06")
    count, cd_size, cd_off = struct.unpack_from("<HII", data, eocd + 10)
    recs, p = [], cd_off
    for _ in range(count):
        nlen, xlen, clen = struct.unpack_from("<HHH", data, p + 28)
        recs.append((p, data[p + 46:p + 46 + nlen].decode()))
        p += 46 + nlen + xlen + clen
    return recs


def run_dump(tool, path, outdir=None):
    """Run pth_dump; returns (exit status, stdout, stderr). A crash shows as a negative status."""
    cmd = [tool, path] + ([outdir] if outdir else [])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr
