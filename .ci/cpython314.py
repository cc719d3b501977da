"""Install CPython 3.14 under a pyenv root, from Debian unstable's binary packages, when none is there yet.

python3 .ci/cpython314.py PYENV_ROOT    -> PYENV_ROOT/versions/3.14.N, where .ci/pythons.py finds it

Why this way: CI reaches only the package registries (PyPI, npm, Debian), so neither python.org's sources nor a
prebuilt CPython from GitHub can be had, Debian's source tarballs are not served, and bookworm has no 3.14. Debian
unstable (sid) has python3.14, built against a newer glibc than bookworm's. So this takes sid's python3.14 packages and
the libraries they depend on, sid's glibc included, and makes the tree self-contained: the interpreter runs on sid's
dynamic loader, and every ELF object finds its libraries in the tree (DT_RPATH: $ORIGIN-relative in the shared
objects, absolute in the interpreter, whose loader path must be absolute anyway), never on the host.

Trust, as apt does it: sid's InRelease must carry a valid signature from a key of the machine's
debian-archive-keyring (gpgv); the Packages index must match the SHA256 that the signed InRelease gives; every .deb
the SHA256 that the index gives. The version comes from the index (3.14.N), never from this file. Downloads are
kept in .ci/cache/debian-sid (gitignored), checked again on reuse, and pruned to what the last install used.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import lzma
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pythons import found  # a sibling script, not a package

MINOR = "3.14"
MIRROR = "http://deb.debian.org/debian"
SUITE = "sid"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
CACHE = Path(__file__).resolve().parent / "cache" / "debian-sid"
# The interpreter, the stdlib with its extension modules, and the venv module with the pip and setuptools wheels
# that ensurepip installs. Their dependencies are followed through the index, so a library sid adds comes along.
ROOTS = (f"python{MINOR}", f"python{MINOR}-venv")
# Dependencies not followed: they carry data or configuration that the interpreter and its libraries look up at
# absolute system paths (/usr/share/zoneinfo, /etc/ssl/certs, /etc/mime.types, /etc/services, /etc/inputrc,
# /usr/lib/<triplet>/gconv, OpenSSL's module dir), where the host's copy serves, or they run only at install time.
# Whatever they would have provided that the tree really needs is caught by the DT_NEEDED check and the self-check.
SKIP = (
    "debconf",
    "tzdata",
    "netbase",
    "media-types",
    "mime-support",
    "readline-common",
    "ca-certificates",
    "openssl",
    "openssl-provider-legacy",
    "libc-gconv-modules-extra",
    "gcc-*-base",
)
TRIPLETS = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
RELEASE_VERSION = re.compile(r"(?:\d+:)?(3\.14\.\d+)-[^-]+")  # 3.14.10-1: a release, not 3.14.0~rc1-1


class Failure(Exception):
    """Something CI cannot go on without; the message says what and what to do."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    filename: str
    sha256: str
    size: int
    depends: str


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[0])
    have = found(root).get(MINOR)
    if have:
        say(f"CPython {MINOR} is already under {root}: {have}")
        return 0
    started = time.monotonic()
    try:
        install(root)
    except Failure as failure:
        print(f"cpython314: {failure}", file=sys.stderr)
        return 1
    say(f"installed in {time.monotonic() - started:.0f} s")
    return 0


def say(message: str) -> None:
    print(f"cpython314: {message}", flush=True)


def install(root: Path) -> None:
    for tool, package in {"gpgv": "gpgv", "dpkg-deb": "dpkg", "patchelf": "patchelf"}.items():
        if not shutil.which(tool):
            raise Failure(f"{tool} is missing: apt-get install {package}")
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    if arch not in TRIPLETS:
        raise Failure(f"no recipe for the {arch} architecture (known: {', '.join(TRIPLETS)})")
    CACHE.mkdir(parents=True, exist_ok=True)
    index = packages_index(signed_release(), arch)
    packages = closure(index)
    python = packages[f"python{MINOR}"]
    release = RELEASE_VERSION.fullmatch(python.version)
    if not release:
        raise Failure(f"sid's python{MINOR} is {python.version}, not a {MINOR}.N release: wait for one")
    version = release.group(1)
    target = root / "versions" / version
    if target.exists():
        raise Failure(f"{target} exists but has no working bin/python{MINOR}; remove it and run again")
    say(f"{version} from Debian {SUITE} ({python.version}), {len(packages)} packages: {' '.join(sorted(packages))}")
    debs = [fetch_deb(package) for package in packages.values()]
    for stale in set(CACHE.iterdir()) - set(debs) - {CACHE / "Packages.xz"}:
        stale.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{version}.", dir=target.parent) as work:
        prefix = Path(work) / "prefix"
        unpack(debs, Path(work) / "unpacked", prefix)
        relocate(prefix, target, TRIPLETS[arch])
        prefix.rename(target)  # the tree's paths name the target: it works from there only
    try:
        self_check(target)
    except Failure:
        shutil.rmtree(target)
        raise


# --- the index --------------------------------------------------------------------------------------------------------


def download(url: str) -> bytes:
    for attempt in range(3):
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                data: bytes = response.read()
                return data
        except (urllib.error.URLError, TimeoutError) as error:
            if (isinstance(error, urllib.error.HTTPError) and error.code == 404) or attempt == 2:
                raise Failure(f"cannot download {url}: {error}") from error
            time.sleep(2 + 4 * attempt)
    raise AssertionError("unreachable")


def signed_release() -> str:
    """sid's InRelease, as the text that a key of the machine's keyring signed (what gpgv outputs, nothing else)."""
    if not KEYRING.is_file():
        raise Failure(f"{KEYRING} is missing: apt-get install debian-archive-keyring")
    with tempfile.TemporaryDirectory() as work:
        signed = Path(work) / "InRelease"
        signed.write_bytes(download(f"{MIRROR}/dists/{SUITE}/InRelease"))
        gpgv = subprocess.run(
            ["gpgv", "--status-fd", "1", "--keyring", str(KEYRING), "--output", str(Path(work) / "Release"), signed],
            capture_output=True,
            text=True,
        )
        status = gpgv.stdout.splitlines()
        # One signature per archive key in use; a key newer than the keyring gives NO_PUBKEY, which is not an
        # attack, as long as another signature is valid. A bad signature is.
        valid = [line.split()[2] for line in status if line.startswith("[GNUPG:] VALIDSIG ")]
        if any(line.startswith("[GNUPG:] BADSIG ") for line in status):
            raise Failure("sid's InRelease has a bad signature: it is not what Debian signed; not installing")
        if not valid:
            unknown = [line.split()[2] for line in status if line.startswith("[GNUPG:] NO_PUBKEY ")]
            raise Failure(
                f"sid's InRelease is signed by {', '.join(unknown) or 'no key'}, none of them in {KEYRING}: "
                "a newer debian-archive-keyring (from bookworm-updates) may have the key"
            )
        say(f"sid's InRelease is signed by {', '.join(key[-16:] for key in valid)} (in {KEYRING.name})")
        release = (Path(work) / "Release").read_text()
    date, valid_until = (re.search(rf"^{field}: (.*)$", release, re.M) for field in ("Date", "Valid-Until"))
    # apt refuses an expired Release (a replayed old index); a registry mirror may serve one a while, and the
    # signature and the hashes still tie every file to Debian, so this is said, not fatal.
    if date and valid_until and parsedate_to_datetime(valid_until.group(1)).timestamp() < time.time():
        say(f"note: sid's index dates from {date.group(1)} and expired on {valid_until.group(1)}")
    return release


def packages_index(release: str, arch: str) -> dict[str, list[Package]]:
    """sid main's Packages index for arch, checked against the signed Release, by package name."""
    path = f"main/binary-{arch}/Packages.xz"
    sha256_section = release.split("\nSHA256:\n", 1)[-1]
    entry = re.search(rf"^ ([0-9a-f]{{64}}) +(\d+) {re.escape(path)}$", sha256_section, re.M)
    if not entry:
        raise Failure(f"sid's Release lists no {path}")
    digest, size = entry.group(1), int(entry.group(2))
    cached = CACHE / "Packages.xz"
    if not (cached.is_file() and sha256(cached.read_bytes()) == digest):
        # By hash: the file that this Release names, even if the index is renewed between the two downloads.
        data = download(f"{MIRROR}/dists/{SUITE}/main/binary-{arch}/by-hash/SHA256/{digest}")
        if len(data) != size or sha256(data) != digest:
            raise Failure(f"sid's {path} does not match the SHA256 in the signed Release")
        cached.write_bytes(data)
    index: dict[str, list[Package]] = {}
    for stanza in lzma.decompress(cached.read_bytes()).decode().split("\n\n"):
        fields = dict(re.findall(r"^([\w-]+): (.*)$", stanza, re.M))  # the fields used are single lines
        if "Package" in fields:
            depends = ", ".join(fields[f] for f in ("Pre-Depends", "Depends") if f in fields)
            package = Package(
                fields["Package"], fields["Version"], fields["Filename"], fields["SHA256"], int(fields["Size"]), depends
            )
            index.setdefault(package.name, []).append(package)
            for provided in re.findall(r"([\w.+-]+)(?: \([^)]*\))?(?:,|$)", fields.get("Provides", "")):
                index.setdefault(f"provides:{provided}", []).append(package)
    return index


def closure(index: dict[str, list[Package]]) -> dict[str, Package]:
    """The roots and what they depend on (the first alternative sid has), less SKIP, newest version of each."""
    if not index.get(ROOTS[0]):
        raise Failure(f"sid's index has no {ROOTS[0]} package: Debian may have dropped {MINOR} from unstable")
    chosen: dict[str, Package] = {}
    wanted: list[tuple[str, str | None, str]] = [(root, None, "CI") for root in ROOTS]
    while wanted:
        name, exact, by = wanted.pop()
        if any(fnmatch.fnmatchcase(name, skip) for skip in SKIP):
            continue
        if name in index:
            package = chosen.get(name) or max(index[name], key=functools.cmp_to_key(compare_versions))
        elif providers := index.get(f"provides:{name}"):  # a virtual package: one already chosen, or the first
            package = next((chosen[p.name] for p in providers if p.name in chosen), providers[0])
        else:
            raise Failure(f"{by} depends on {name}, which sid's index does not have")
        if exact and package.version != exact:
            raise Failure(f"{by} wants {name} {exact}, sid has {package.version}: sid is mid-upload, retry later")
        if package.name not in chosen:
            chosen[package.name] = package
            wanted += [(*choose(d, index), package.name) for d in package.depends.split(", ") if d]
    return chosen


def choose(dependency: str, index: dict[str, list[Package]]) -> tuple[str, str | None]:
    """'a (>= 1) | b' -> the first alternative sid has, with the version it must be exactly (for '=') or None."""
    relation = re.compile(r"([^\s:]+)(?::\S+)? *(?:\((\S+) ([^)]+)\))?")  # name[:arch] [(operator version)]
    alternatives = [relation.fullmatch(alternative.strip()) for alternative in dependency.split("|")]
    parsed = [(m.group(1), m.group(3) if m.group(2) == "=" else None) for m in alternatives if m]
    return next(((name, exact) for name, exact in parsed if name in index or f"provides:{name}" in index), parsed[0])


def compare_versions(a: Package, b: Package) -> int:
    if a.version == b.version:
        return 0
    return -1 if subprocess.run(["dpkg", "--compare-versions", a.version, "lt", b.version]).returncode == 0 else 1


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_deb(package: Package) -> Path:
    cached = CACHE / Path(package.filename).name
    if cached.is_file() and sha256(cached.read_bytes()) == package.sha256:
        return cached
    data = download(f"{MIRROR}/{package.filename}")
    if len(data) != package.size or sha256(data) != package.sha256:
        raise Failure(f"{package.filename} does not match the SHA256 in sid's signed index")
    cached.write_bytes(data)
    return cached


# --- the tree ---------------------------------------------------------------------------------------------------------


def unpack(debs: list[Path], unpacked: Path, prefix: Path) -> None:
    """Unpack the packages as dpkg would into /, then make their /usr the prefix and keep the rest beside it."""
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    (unpacked / "usr").rename(prefix)
    for top in unpacked.iterdir():  # etc/: /usr/lib/python3.14/sitecustomize.py links to /etc/python3.14/...
        if (prefix / top.name).exists():
            raise Failure(f"the packages ship both /{top.name} and /usr/{top.name}: not a merged-/usr layout")
        top.rename(prefix / top.name)


def relocate(prefix: Path, target: Path, triplet: str) -> None:
    """Make the tree at prefix work from target, on its own libraries and loader, without touching the host's."""
    libdir = prefix / "lib" / triplet
    loaders = [p for p in libdir.glob("ld-linux*.so.*") if p.is_file() and not p.is_symlink()]
    if len(loaders) != 1:
        raise Failure(f"expected one dynamic loader in lib/{triplet}, found {[p.name for p in loaders]}")
    loader = loaders[0]
    for path in sorted(prefix.rglob("*")):
        if path.is_symlink() and os.readlink(path).startswith("/"):
            # An absolute link means the host's file: point it into the tree where the tree has the file.
            inside = prefix / os.readlink(path).removeprefix("/usr").lstrip("/")
            if inside.exists() or inside.is_symlink():
                path.unlink()
                path.symlink_to(os.path.relpath(inside, path.parent))
    for path in sorted(prefix.rglob("*")):
        if path.is_symlink() or not path.is_file() or path == loader:
            continue
        with path.open("rb") as file:
            head = file.read(64)
        if head.startswith(b"\x7fELF"):
            patch_elf(path, libdir, loader, prefix, target)
        elif path.parent == prefix / "bin" and re.match(rb"#! ?/usr/bin/python", head):
            # pydoc3.14 and friends: their interpreter is the tree's, not the host's /usr/bin/python3.14.
            script = path.read_bytes()
            path.write_bytes(re.sub(rb"^#! ?/usr/bin/", b"#!" + bytes(target / "bin") + b"/", script, count=1))
    (prefix / "bin" / "python3").symlink_to(f"python{MINOR}")  # as in every pyenv version
    # ensurepip takes pip's wheel from WHEEL_PKG_DIR, which Debian sets to /usr/share/python-wheels: the host's,
    # with an old pip (bookworm's 23.0.1) or none. Point it at the wheels of the tree's python3-pip-whl.
    sysconfigdata = next((prefix / "lib" / f"python{MINOR}").glob("_sysconfigdata_*.py")).resolve()
    text = sysconfigdata.read_text()
    fixed = re.sub(r"('WHEEL_PKG_DIR': )'/usr/", lambda m: f"{m.group(1)}'{target}/", text)
    if fixed == text:
        raise Failure(f"{sysconfigdata.name} has no WHEEL_PKG_DIR under /usr: ensurepip would not find pip")
    sysconfigdata.write_text(fixed)


def patch_elf(path: Path, libdir: Path, loader: Path, prefix: Path, target: Path) -> None:
    needed = patchelf("--print-needed", path).split()
    if not set(needed) - {loader.name}:
        return  # the loader itself, data-only objects, and libc.so.6, whose only need is the loader already mapped
    for soname in needed:
        if not (libdir / soname).exists():
            raise Failure(f"{path.relative_to(prefix)} needs {soname}, which no package of the closure ships")
    if patchelf("--print-interpreter", path, check=False):
        # An executable. Its PT_INTERP is read by the kernel, which knows no $ORIGIN, so it names the loader by its
        # absolute path, and the tree must stay at target anyway; so does its library path, because a venv made with
        # copies (venv.create's default) runs a copy of it from elsewhere, where $ORIGIN/../lib is not the tree's.
        patchelf("--set-interpreter", str(target / loader.relative_to(prefix)), path)
        search = str(target / libdir.relative_to(prefix))
    else:
        search = f"$ORIGIN/{os.path.relpath(libdir, path.parent)}"
    # DT_RPATH rather than DT_RUNPATH: the loader also searches an object's DT_RPATH for the needs of what it loads,
    # so an extension module from a wheel (which has no path of its own) finds its libraries here, not on the host.
    patchelf("--force-rpath", "--set-rpath", search, path)


def patchelf(*arguments: str | Path, check: bool = True) -> str:
    run = subprocess.run(["patchelf", *map(str, arguments)], capture_output=True, text=True)
    if check and run.returncode != 0:
        raise Failure(f"patchelf {' '.join(map(str, arguments))}: {run.stderr.strip()}")
    return run.stdout.strip() if run.returncode == 0 else ""


# --- the check --------------------------------------------------------------------------------------------------------

# Run by the new interpreter with an empty environment: import every extension module, use the ones that wrap a
# library, and fail if any shared object was mapped from outside the tree (a host library would work today and
# break on the next bookworm point release, or quietly be another version than the one sid's Python was built for).
CHECK = """
import importlib, os, sys
prefix = sys.argv[1]
assert sys.prefix == prefix and sys.version_info[:2] == (3, 14), (sys.prefix, sys.version)
dynload = os.path.join(prefix, "lib", "python3.14", "lib-dynload")
for name in sorted(os.listdir(dynload)):
    importlib.import_module(name.split(".")[0])
import bz2, ctypes, decimal, hashlib, lzma, sqlite3, ssl, uuid, zlib
from compression import zstd
ssl.create_default_context()
hashlib.new("sha3_256", b"x").hexdigest()
sqlite3.connect(":memory:").execute("select 1")
for codec in (bz2, lzma, zlib, zstd):
    assert codec.decompress(codec.compress(b"x" * 1000)) == b"x" * 1000
ctypes.CDLL(None)
uuid.uuid4()
mapped = {line.split()[5] for line in open("/proc/self/maps") if len(line.split()) == 6}
outside = sorted(p for p in mapped if ".so" in os.path.basename(p) and not p.startswith(prefix + "/"))
assert not outside, f"shared objects mapped from outside {prefix}: {outside}"
print(sys.version.split()[0])
"""


def self_check(target: Path) -> None:
    python = target / "bin" / f"python{MINOR}"
    run = subprocess.run([python, "-c", CHECK, str(target)], env={}, capture_output=True, text=True)
    if run.returncode != 0:
        raise Failure(f"the installed {python} fails its check:\n{run.stderr.strip()}")
    with tempfile.TemporaryDirectory() as work:
        venv = Path(work) / "venv"
        # --copies: the venv's python is a copy of the interpreter, not a link to it, and must run all the same.
        steps: list[list[str | Path]] = [
            [python, "-m", "venv", "--copies", venv],
            [venv / "bin" / "python", "-m", "pip", "--version"],
        ]
        for step in steps:
            run = subprocess.run(step, env={}, capture_output=True, text=True)
            if run.returncode != 0:
                raise Failure(f"{' '.join(map(str, step))} fails:\n{(run.stderr or run.stdout).strip()}")
    wheels = sorted((target / "share" / "python-wheels").glob("pip-*.whl"))
    if not wheels or f"pip {wheels[-1].name.split('-')[1]} " not in run.stdout:
        raise Failure(f"a venv of {python} got {run.stdout.strip()}, not the pip of python3-pip-whl")
    pip = run.stdout.split(" from")[0]
    say(f"{python} runs, imports its extension modules from the tree only, and makes venvs with {pip}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
