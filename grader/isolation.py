"""The operating system's boundary around the worker, the process that runs student code.

Three modes, strongest first; every report records the one that ran (`Report.isolation`):

- ``bwrap``: bubblewrap (the sandbox of Flatpak) starts the worker in new user, pid, ipc,
  net and uts namespaces. It sees the Python runtime and the installed packages read-only,
  the submission read-only, and a size-limited private tmpfs as scratch and home; the
  references (`solutions`), the checks, the catalogue, recorded outputs, a checkout's
  `.git` and `tests/` are not there at all. No network, no other process visible; the
  whole namespace dies with the grader or at the time limit (`--die-with-parent`), a
  process that called setsid included. A seccomp filter refuses system calls no exercise
  needs (ptrace, mount, bpf, keyctl, ...).
- ``user``: where bubblewrap cannot run but the grader is root (Gradescope and most Docker
  containers forbid user namespaces), the worker runs under a fresh unprivileged uid of
  its own (100000 + the grader's pid: never shared with another grader), with the
  references and the checks made unreadable to others and a cap on its processes.
- ``python``: elsewhere (a laptop, macOS) only the in-process walls of `grader.sandbox`.

    mode = choose("auto")            # "bwrap" here when bubblewrap works
    launch = plan(mode, submission, device="cpu")
    subprocess.Popen(launch.argv + worker_argv, **launch.popen_kwargs())
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

MODES = ("bwrap", "user", "python")
CHOICES = ("auto", *MODES)
SCRATCH_BYTES = 256 << 20
"""Size of the worker's private tmpfs (bwrap): scratch files and home."""
USER_UID_BASE = 100_000
COPY_LIMIT = 64 << 20
"""Bytes of submission copied for the `user` mode's private copy."""


class IsolationUnavailable(RuntimeError):
    """The requested isolation cannot run here; the message says why."""


# --- what this machine offers ------------------------------------------------------------


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=None)
def why_not(mode: str) -> str:
    """Empty when `mode` can run here, else the reason it cannot."""
    from grader.messages import text

    if mode == "python":
        return ""
    if mode not in MODES:
        return text("isolation.unknown", mode=mode, choices=", ".join(CHOICES))
    if not sys.platform.startswith("linux"):
        return text("isolation.needs_linux", mode=mode)
    if mode == "bwrap":
        exe = bwrap_path()
        if exe is None:
            return text("isolation.no_bwrap")
        probe = subprocess.run(
            [exe, *_namespaces(), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30,
        )
        if probe.returncode != 0:
            detail = probe.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
            return text("isolation.bwrap_fails", detail=detail[0][:200])
        return ""
    if mode == "user":
        if os.geteuid() != 0:
            return text("isolation.user_needs_root")
        blocked = _unreadable_for_others(Path(sys.executable).resolve().parent)
        if blocked:
            return text("isolation.runtime_unreadable", folder=blocked)
    return ""


AUTO_ON_CUDA = ("user", "python")
"""What `auto` tries with a CUDA device: a bubblewrap worker did not start on the one GPU
machine it was tried on (an H200, 2026-12-04), so `bwrap` with CUDA is asked for by name
only."""


def choose(requested: str = "auto", device: str = "cpu") -> str:
    """The mode to run: `requested` when it can run (else IsolationUnavailable), or for
    "auto" the strongest that can."""
    if requested not in CHOICES:
        from grader.messages import text

        raise IsolationUnavailable(text("isolation.unknown", mode=requested, choices=", ".join(CHOICES)))
    if requested != "auto":
        reason = why_not(requested)
        if reason:
            raise IsolationUnavailable(reason)
        return requested
    for mode in AUTO_ON_CUDA if device.startswith("cuda") else MODES:
        if not why_not(mode):
            return mode
    return "python"


def _unreadable_for_others(path: Path) -> str:
    """The first folder on the way to `path` that others cannot enter, else ''."""
    for folder in [*reversed(path.parents), path]:
        try:
            mode = folder.stat().st_mode
        except OSError:
            return str(folder)
        if not mode & stat.S_IXOTH:
            return str(folder)
    return ""


# --- what the worker may see -------------------------------------------------------------


def _spec_folder(name: str) -> Path | None:
    """Where package `name` lives, found without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or spec.origin in ("built-in", "frozen"):
        return None
    return Path(spec.origin).resolve().parent


def grader_root() -> Path:
    """The folder holding the `grader` package: site-packages, or a checkout."""
    return Path(__file__).resolve().parent.parent


def is_checkout(root: Path) -> bool:
    """True when `root` is a source checkout (editable install), not an installed site."""
    return (root / "pyproject.toml").is_file() or (root / ".git").exists()


def secret_folders() -> list[Path]:
    """What student code must never see: references, checks, catalogue, recorded outputs
    (and in a checkout its history and tests)."""
    grader_dir = Path(__file__).resolve().parent
    found = [grader_dir / "checks", grader_dir / "locales", grader_dir / "recorded"]
    references = _spec_folder("solutions")
    if references is not None:
        found.append(references)
    root = grader_root()
    if is_checkout(root):
        found += [root / ".git", root / "tests", root / "solutions"]
    unique: dict[str, Path] = {}
    for p in found:
        if p.exists():
            unique.setdefault(str(p), p)
    return list(unique.values())


def runtime_folders() -> list[Path]:
    """The Python runtime and the installed packages the worker imports (read-only).
    A checkout is not among them: only its `grader` package is shown. Never a folder that
    holds the scratch (/tmp), nor the folder the grader merely started from (sys.path[0]
    is the working directory under `-m`, a script's folder otherwise)."""
    root = grader_root()
    started_in = {Path.cwd().resolve()}
    if sys.path and sys.path[0]:
        started_in.add(Path(sys.path[0]).resolve())
    runtime = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    scratch = Path(tempfile.gettempdir()).resolve()
    wanted = [Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).parent]
    for entry in sys.path:
        if entry and os.path.isdir(entry):
            real = Path(entry).resolve()
            if real in started_in and real not in runtime:
                continue
            if real == Path("/") or real == scratch or real in scratch.parents or real == Path("/tmp"):
                continue
            wanted.append(real)
    if is_checkout(root):
        wanted = [p for p in wanted if p.resolve() != root]
        wanted.append(root / "grader")
    out: list[Path] = []
    for p in wanted:
        real = p.resolve()
        if not any(real == o or o in real.parents for o in out):
            out = [o for o in out if real not in o.parents] + [real]
    return out


def python_path() -> str | None:
    """PYTHONPATH the worker needs to import `grader`: None for an installed package."""
    root = grader_root()
    return str(root) if is_checkout(root) else None


# --- seccomp: system calls no exercise needs ---------------------------------------------

# x86-64 numbers (asm/unistd_64.h); elsewhere no filter is added
_DENIED_X86_64 = {
    "ptrace": 101, "syslog": 103, "acct": 163, "settimeofday": 164, "mount": 165, "umount2": 166,
    "swapon": 167, "swapoff": 168, "reboot": 169, "sethostname": 170, "setdomainname": 171,
    "iopl": 172, "ioperm": 173, "init_module": 175, "delete_module": 176, "quotactl": 179,
    "pivot_root": 155, "chroot": 161, "kexec_load": 246, "add_key": 248, "request_key": 249,
    "keyctl": 250, "unshare": 272, "move_pages": 279, "perf_event_open": 298,
    "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310,
    "process_vm_writev": 311, "kcmp": 312, "finit_module": 313, "kexec_file_load": 320, "bpf": 321,
    "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "pidfd_getfd": 438, "mount_setattr": 442,
}


def seccomp_program() -> bytes | None:
    """A classic-BPF seccomp program (as bubblewrap's `--seccomp FD` reads it) that makes
    the denied system calls fail with EPERM; None where no filter is defined."""
    import platform
    import struct

    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    AUDIT_ARCH_X86_64 = 0xC000003E
    X32_BIT = 0x40000000
    LD_W_ABS, JEQ_K, JGE_K, RET_K = 0x20, 0x15, 0x35, 0x06
    ALLOW, KILL, EPERM = 0x7FFF0000, 0x80000000, 0x00050000 | 1

    def op(code: int, jt: int, jf: int, k: int) -> bytes:
        return struct.pack("<HBBI", code, jt, jf, k)

    denied = sorted(set(_DENIED_X86_64.values()))
    prog = [
        op(LD_W_ABS, 0, 0, 4),                      # seccomp_data.arch
        op(JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        op(RET_K, 0, 0, KILL),                      # another ABI: refuse everything
        op(LD_W_ABS, 0, 0, 0),                      # seccomp_data.nr
        op(JGE_K, 0, 1, X32_BIT),
        op(RET_K, 0, 0, KILL),                      # the x32 ABI
    ]
    for i, nr in enumerate(denied):
        remaining = len(denied) - i - 1
        prog.append(op(JEQ_K, remaining + 1, 0, nr))  # to the EPERM return at the end
    prog.append(op(RET_K, 0, 0, ALLOW))
    prog.append(op(RET_K, 0, 0, EPERM))
    return b"".join(prog)


# --- the launch ------------------------------------------------------------------------


def _namespaces() -> list[str]:
    return ["--unshare-user", "--disable-userns", "--unshare-pid", "--unshare-ipc", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent", "--new-session"]


@dataclass
class Launch:
    """How to start the worker under one isolation mode."""

    mode: str
    argv: list[str] = field(default_factory=list)
    """Put before the worker's own command (bubblewrap and its options)."""
    submission: Path = Path(".")
    """The submission folder as the worker sees it."""
    cwd: str = "/"
    """The worker's working directory (its scratch) as the grader starts it."""
    scratch: str | None = None
    """A host folder to remove after the worker stops (None: bubblewrap's tmpfs)."""
    copies: list[str] = field(default_factory=list)
    """Other host folders made for this launch, removed after the worker stops."""
    uid: int | None = None
    home: str = "/tmp"
    pass_fds: tuple[int, ...] = ()
    """File descriptors the launcher itself needs passed (the seccomp program)."""

    def popen_kwargs(self) -> dict:
        kwargs: dict = {"cwd": self.cwd}
        if self.uid is not None:
            kwargs |= {"user": self.uid, "group": self.uid, "extra_groups": [], "umask": 0o077}
        return kwargs

    def cleanup(self) -> None:
        for folder in [self.scratch, *self.copies]:
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
        for fd in self.pass_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.scratch, self.copies, self.pass_fds = None, [], ()


def plan(mode: str, submission: Path, device: str = "cpu") -> Launch:
    """How to start a worker for `submission` under `mode` (one of MODES)."""
    submission = Path(submission).resolve()
    if mode == "bwrap":
        return _plan_bwrap(submission, device)
    if mode == "user":
        return _plan_user(submission)
    scratch = tempfile.mkdtemp(prefix="dlcourse-worker-")
    return Launch("python", submission=submission, cwd=scratch, scratch=scratch, home=scratch)


def _plan_bwrap(submission: Path, device: str) -> Launch:
    args = [bwrap_path() or "bwrap", *_namespaces()]
    # the base system: /usr and the top-level links or folders of a merged-/usr layout
    for top in ("usr", "bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        p = Path("/") / top
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    # the private scratch first: runtime folders may live under /tmp (a venv) and are
    # mounted on top of it
    args += ["--size", str(SCRATCH_BYTES), "--tmpfs", "/tmp"]
    for f in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group"):
        args += ["--ro-bind-try", f, f]
    shown = runtime_folders()
    for folder in shown:
        if not str(folder).startswith("/usr/"):
            args += ["--ro-bind", str(folder), str(folder)]
    shown.append(Path("/usr"))
    # what the runtime folders hold but student code must not see: an empty tmpfs on top
    for secret in secret_folders():
        inside = any(secret == f or f in secret.parents for f in shown)
        if inside and secret.is_dir() and not (submission == secret or secret in submission.parents):
            args += ["--tmpfs", str(secret), "--remount-ro", str(secret)]
    args += ["--proc", "/proc", "--dev", "/dev"]
    if device.startswith("cuda"):
        for dev in sorted(Path("/dev").glob("nvidia*")):
            args += ["--dev-bind", str(dev), str(dev)]
        # the CUDA runtime reads the driver's files and sysfs (device topology, NUMA nodes)
        for extra in ("/usr/local/nvidia", "/usr/local/cuda", "/etc/alternatives", "/run/nvidia-persistenced", "/sys"):
            args += ["--ro-bind-try", extra, extra]
    args += ["--ro-bind", str(submission), str(submission)]
    args += ["--chdir", "/tmp", "--hostname", "dlcourse"]
    fds: tuple[int, ...] = ()
    program = seccomp_program()
    if program is not None:
        read_end, write_end = os.pipe()
        os.write(write_end, program)  # a few hundred bytes: fits in the pipe's buffer
        os.close(write_end)
        args += ["--seccomp", str(read_end)]
        fds = (read_end,)
    args.append("--")
    # bubblewrap's own working directory: a folder that exists outside (the tmpfs is inside)
    return Launch("bwrap", argv=args, submission=submission, cwd="/", home="/tmp", pass_fds=fds)


def worker_uid(grader_pid: int) -> int:
    """The uid of the `user` mode's worker started by the grader `grader_pid`."""
    return USER_UID_BASE + grader_pid


def kill_uid(uid: int) -> None:
    """SIGKILL every process of `uid` (a `user` worker's own uid): kill(-1) run as that uid
    reaches exactly its processes, one in a session of its own included. Needs root."""
    if os.geteuid() != 0 or uid < USER_UID_BASE or not _has_processes(uid):
        return
    try:
        subprocess.run([sys.executable, "-S", "-c", "import os; os.kill(-1, 9)"], user=uid, group=uid,
                       extra_groups=[], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd="/", timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        pass


def _has_processes(uid: int) -> bool:
    """Whether any process runs as `uid` (Linux /proc; elsewhere assume so)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    return True
            except OSError:
                continue
    return False


def _plan_user(submission: Path) -> Launch:
    uid = worker_uid(os.getpid())
    for secret in secret_folders():
        try:  # root keeps reading them; the worker's uid is "other"
            secret.chmod(secret.stat().st_mode & ~0o077)
        except OSError:
            pass
    base = tempfile.mkdtemp(prefix="dlcourse-user-")
    os.chmod(base, 0o711)
    copy = Path(base) / submission.name
    _private_copy(submission, copy, uid)
    scratch = Path(base) / "scratch"
    scratch.mkdir(mode=0o700)
    os.chown(scratch, uid, uid)
    return Launch("user", submission=copy, cwd=str(scratch), scratch=None, copies=[base], uid=uid, home=str(scratch))


def _private_copy(source: Path, dest: Path, uid: int) -> None:
    """Copy the submission's regular files (never a link) into `dest`, owned by `uid` and
    readable by it alone: another student's worker in the same batch has another uid."""
    total = 0
    dest.mkdir(mode=0o700)
    os.chown(dest, uid, uid)
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        rel = Path(dirpath).relative_to(source)
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__" and not (Path(dirpath) / d).is_symlink()]
        for d in dirnames:
            (dest / rel / d).mkdir(mode=0o700, exist_ok=True)
            os.chown(dest / rel / d, uid, uid)
        for name in filenames:
            src = Path(dirpath) / name
            if src.is_symlink() or not src.is_file():
                continue
            total += src.stat().st_size
            if total > COPY_LIMIT:
                return
            target = dest / rel / name
            shutil.copyfile(src, target, follow_symlinks=False)
            os.chmod(target, 0o400)
            os.chown(target, uid, uid)
