"""Seal a shard file made with h5py (h5py.File(path, "w", userblock_size=512)) as the program's
writer seals its own (src/io/shard_sum.h): the SHA-256 and size of every byte after the 512-byte
user block, written into the block, so that resume, index and verify accept it as intact."""
import hashlib

BLOCK = 512


def seal(path):
    with open(path, "r+b") as f:
        f.seek(BLOCK)
        h = hashlib.sha256()
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
        size = f.seek(0, 2)
        block = f"webssl-dist shard checksum 1\nsha256 {h.hexdigest()}\nsize {size}\n".encode()
        f.seek(0)
        f.write(block.ljust(BLOCK, b"\0"))
