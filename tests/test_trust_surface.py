"""What flamefold does to the machine and the terminal: outputs that never damage what is there
(devices, FIFOs, links, modes), one-line errors naming the file, no traceback, no panic, and
messages that cannot drive the terminal."""

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

import pytest

import flamefold
from flamefold import _flamefold
from flamefold._io import write_atomic
from flamefold.palettes import PaletteMap

from conftest import DATA

INPUTS = DATA / "collapse" / "inputs"
FUNCAB = INPUTS / "perf-funcab-cmd-01.txt"
FUNCAB_OUT = (DATA / "collapse" / "expected" / "perf-funcab-cmd-01-default.txt").read_bytes()
FOLDED = DATA / "flamegraph" / "inputs" / "example-perf.folded"
BEFORE = DATA / "diff" / "inputs" / "before.txt"
AFTER = DATA / "diff" / "inputs" / "after.txt"
ROOT = os.geteuid() == 0


def exe(name):
    path = shutil.which(name) or os.path.join(os.path.dirname(sys.executable), name)
    assert os.path.exists(path), f"{name} is not installed (pip install .)"
    return path


def run(*args, env=None, **kw):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([os.fsencode(a) if isinstance(a, (str, bytes, os.PathLike)) else a for a in args], capture_output=True, env=e, **kw)


def one_line(stderr):
    assert b"Traceback" not in stderr and b"panicked" not in stderr, stderr
    assert stderr.count(b"\n") == 1 and stderr.endswith(b"\n"), stderr
    return stderr.decode("utf-8", "backslashreplace")


# Every way flamefold writes an output file: name -> writes to dest (a path).
def _cli(*args):
    def write(dest):
        r = run(*args, "-o", dest)
        assert r.returncode == 0, r.stderr

    return write


def _profile_to_folded(dest):
    flamefold.read_folded(FOLDED).to_folded(dest)


def _diff_to_folded(dest):
    flamefold.diff(BEFORE, AFTER).to_folded(dest)


def _flamegraph(dest):
    flamefold.flamegraph(flamefold.read_folded(FOLDED), dest)


def _palette_map(dest):
    m = PaletteMap(dest)
    m.color("main", lambda: (1, 2, 3))
    m.save()


WRITERS = {
    "collapse -o": _cli(exe("flamefold"), "collapse", FUNCAB),
    "graph -o": _cli(exe("flamefold"), "graph", FOLDED),
    "diff -o": _cli(exe("flamefold"), "diff", BEFORE, AFTER),
    "diff --html -o": _cli(exe("flamefold"), "diff", "--html", BEFORE, AFTER),
    "Profile.to_folded": _profile_to_folded,
    "Diff.to_folded": _diff_to_folded,
    "flamegraph": _flamegraph,
    "palette.map": _palette_map,
}
writers = pytest.mark.parametrize("writer", list(WRITERS))


def reference(writer, tmp_path):
    ref = tmp_path / "reference"
    ref.mkdir(exist_ok=True)
    WRITERS[writer](ref / "out")
    data = (ref / "out").read_bytes()
    assert data
    return data


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@writers
def test_a_character_device_stays_a_device(writer, tmp_path):
    if not ROOT:
        pytest.skip("mknod needs root (CAP_MKNOD); flamefold's CI runs these tests as root")
    dev = tmp_path / "null"
    os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null twin
    before = os.lstat(dev)
    WRITERS[writer](dev)
    st = os.lstat(dev)
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert (st.st_mode, st.st_ino) == (before.st_mode, before.st_ino)
    assert leftovers(tmp_path) == []


@writers
def test_a_fifo_reader_gets_the_whole_output(writer, tmp_path):
    want = reference(writer, tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []

    def reader():
        with open(fifo, "rb") as f:
            got.append(f.read())

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    WRITERS[writer](fifo)
    t.join(30)
    assert got and got[0] == want
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert leftovers(tmp_path) == []


@writers
def test_a_symlink_stays_a_symlink_to_the_new_content(writer, tmp_path):
    want = reference(writer, tmp_path)
    real = tmp_path / "real"
    real.mkdir()
    target = real / "target"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    link = tmp_path / "link"
    os.symlink(os.path.join("real", "target"), link)  # relative, into another folder
    WRITERS[writer](link)
    assert os.path.islink(link) and os.readlink(link) == os.path.join("real", "target")
    assert target.read_bytes() == want
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    dangling = tmp_path / "dangling"
    os.symlink(real / "new", dangling)  # a link to a file not there yet: created
    WRITERS[writer](dangling)
    assert os.path.islink(dangling) and (real / "new").read_bytes() == want
    assert leftovers(tmp_path) == [] and leftovers(real) == []


@writers
def test_modes_are_kept_and_new_files_honour_the_umask(writer, tmp_path):
    private = tmp_path / "private"
    private.write_bytes(b"secret")
    os.chmod(private, 0o600)
    WRITERS[writer](private)
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600 and private.read_bytes() != b"secret"
    old = os.umask(0o027)
    try:
        WRITERS[writer](tmp_path / "new")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o640
    assert leftovers(tmp_path) == []


def test_the_owner_is_kept(tmp_path):
    if not ROOT:
        pytest.skip("changing a file's owner needs root")
    for writer in ("collapse -o", "graph -o", "Profile.to_folded", "flamegraph"):
        f = tmp_path / writer.replace(" ", "_")
        f.write_bytes(b"x")
        os.chown(f, 65534, 65534)
        WRITERS[writer](f)
        st = os.stat(f)
        assert (st.st_uid, st.st_gid) == (65534, 65534), writer


def _no_dac_override():
    """In the child, before exec: root loses CAP_DAC_OVERRIDE (the right to write anywhere)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(24, 1, 0, 0, 0) != 0:  # PR_CAPBSET_DROP, CAP_DAC_OVERRIDE
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_a_read_only_folder_is_a_one_line_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    shutil.copy(FUNCAB, folder / "in.txt")
    shutil.copy(FOLDED, folder / "in.folded")
    os.chmod(folder, 0o555)
    limit = _no_dac_override if ROOT else None
    if ROOT:
        try:
            subprocess.run(["true"], preexec_fn=limit, check=True)
        except (OSError, subprocess.SubprocessError) as e:
            pytest.skip(f"root cannot drop CAP_DAC_OVERRIDE here, so every folder is writable: {e}")
    try:
        for args in (("collapse", "in.txt"), ("graph", "in.folded"), ("diff", "in.folded", "in.folded"), ("diff", "--html", "in.folded", "in.folded")):
            r = subprocess.run([exe("flamefold"), *args, "-o", "out"], cwd=folder, capture_output=True, preexec_fn=limit)
            prog = {"graph": "flamefold graph", "diff": "flamefold diff"}.get(args[0], "flamefold")
            assert r.returncode == 1, args
            assert one_line(r.stderr) == f"{prog}: error: out: Permission denied\n"
        code = (
            "import flamefold\n"
            "p = flamefold.read_folded('in.folded')\n"
            "for f in (p.to_folded, lambda d: flamefold.flamegraph(p, d), flamefold.diff(p, p).to_folded):\n"
            "    try:\n"
            "        f('out')\n"
            "    except PermissionError as e:\n"
            "        print(e.filename)\n"
        )
        r = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, preexec_fn=limit)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split(b"\n")[:2] == [b"out", b"out"]  # Diff.to_folded: see the report
        assert sorted(os.listdir(folder)) == ["in.folded", "in.txt"]
    finally:
        os.chmod(folder, 0o755)


def test_api_write_errors_name_the_file(tmp_path):
    dest = str(tmp_path / "missing" / "out")
    for writer in ("Profile.to_folded", "flamegraph", "palette.map"):
        with pytest.raises(FileNotFoundError) as e:
            WRITERS[writer](dest)
        assert e.value.filename == dest, writer
    with pytest.raises(IsADirectoryError):
        write_atomic(tmp_path, b"x")
    assert leftovers(tmp_path) == []


def test_ctrl_c_while_writing_leaves_the_old_file(tmp_path, monkeypatch):
    f = tmp_path / "out"
    f.write_bytes(b"old")
    calls = []

    def interrupted(fd, data):
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(f, b"new" * 1000)
    monkeypatch.undo()
    assert calls and f.read_bytes() == b"old" and os.listdir(tmp_path) == ["out"]


def test_ctrl_c_during_collapse_leaves_nothing(tmp_path):
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    out = tmp_path / "out.folded"
    p = subprocess.Popen([exe("flamefold"), "collapse", str(fifo), "-o", str(out)], stderr=subprocess.PIPE)
    chunk = FUNCAB.read_bytes() * 200
    w = os.open(fifo, os.O_WRONLY)
    try:
        os.write(w, chunk)
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        for _ in range(100):  # more input: the reader wakes up and sees the interrupt
            os.write(w, chunk)
            if p.poll() is not None:
                break
            time.sleep(0.05)
    except BrokenPipeError:
        pass
    finally:
        os.close(w)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130
    assert one_line(err) == "flamefold: interrupted\n"
    assert sorted(os.listdir(tmp_path)) == ["in.fifo"]


# --- standard output on a full disk -------------------------------------------------------

COMMANDS = {
    "stackcollapse-perf": ("stackcollapse-perf", FUNCAB),
    "collapse": ("flamefold", "collapse", FUNCAB),
    "collapse --top": ("flamefold", "collapse", "--top", "3", FUNCAB),
    "graph": ("flamefold", "graph", FOLDED),
    "diff": ("flamefold", "diff", BEFORE, AFTER),
    "diff --folded": ("flamefold", "diff", "--folded", BEFORE, AFTER),
    "diff --html": ("flamefold", "diff", "--html", BEFORE, AFTER),
    "difffolded": ("difffolded", BEFORE, AFTER),
}
PROGS = {"stackcollapse-perf": "stackcollapse-perf", "difffolded": "difffolded", "graph": "flamefold graph"}


def prog_of(name):
    return PROGS.get(name.split()[0], "flamefold diff" if name.startswith("diff") else "flamefold")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_full_disk_on_stdout_is_one_line(name):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    cmd, *args = COMMANDS[name]
    with open("/dev/full", "wb") as full:
        r = subprocess.run([exe(cmd), *map(str, args)], stdout=full, stderr=subprocess.PIPE)
    assert r.returncode == 1
    assert one_line(r.stderr) == f"{prog_of(name)}: error: <stdout>: No space left on device\n"


@pytest.mark.parametrize("argv", [("flamefold", "--help"), ("flamefold", "--version"), ("flamefold graph", "graph", "--help"), ("stackcollapse-perf", "--help"), ("difffolded", "--help")])
def test_help_on_a_full_disk_is_one_line(argv):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "wb") as full:
        r = subprocess.run([exe(argv[0].split()[0]), *argv[1:]], stdout=full, stderr=subprocess.PIPE)
    assert r.returncode == 1
    assert one_line(r.stderr) == f"{argv[0]}: error: <stdout>: No space left on device\n"


# --- file names that are not UTF-8, and errors that name the file --------------------------


def test_file_names_that_are_not_utf8(tmp_path):
    base = os.fsencode(tmp_path)
    perf = base + b"/\xff.txt"
    folded = base + b"/\xfe.folded"
    shutil.copy(FUNCAB, perf)
    shutil.copy(FOLDED, folded)
    for argv in (
        ("stackcollapse-perf", perf),
        ("flamefold", "collapse", perf),
        ("flamefold", "collapse", perf, "-o", base + b"/\xfd.out"),
        ("flamefold", "graph", folded),
        ("flamefold", "graph", folded, folded, "-o", base + b"/\xfc.svg"),
        ("flamefold", "diff", folded, perf),
        ("flamefold", "diff", "--html", folded, perf),
        ("flamefold", "diff", "--html", folded, perf, "-o", base + b"/\xfb.html"),
        ("difffolded", folded, perf),
    ):
        r = run(exe(argv[0]), *argv[1:])
        assert r.returncode == 0 and b"Traceback" not in r.stderr, (argv, r.stderr)
    html = open(base + b"/\xfb.html", "rb").read()
    assert b"\\xfe.folded" not in html and "\ufffd.folded".encode() in html
    missing = base + b"/\xff\x1b[31m.missing"
    r = run(exe("flamefold"), "graph", missing)
    assert one_line(r.stderr) == f"flamefold graph: error: {tmp_path}/\\xff\\x1b[31m.missing: No such file or directory\n"


MISSING = "/nonexistent/flamefold-missing.folded"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_missing_file_is_named(name):
    cmd, *args = COMMANDS[name]
    args = [MISSING if a in (FUNCAB, FOLDED, AFTER) else a for a in args]
    r = run(exe(cmd), *args)
    assert r.returncode == 1
    assert one_line(r.stderr) == f"{prog_of(name)}: error: {MISSING}: No such file or directory\n"


@pytest.mark.parametrize(
    "call",
    [
        lambda p: flamefold.collapse_perf(p),
        lambda p: flamefold.read_folded(p),
        lambda p: _flamefold.load_profile(p),
        lambda p: flamefold.diff(p, FOLDED),
        lambda p: flamefold.diff(FOLDED, p),
        lambda p: flamefold.flamegraph(p),
    ],
    ids=["collapse_perf", "read_folded", "load_profile", "diff-before", "diff-after", "flamegraph"],
)
def test_api_errors_name_the_file(call, tmp_path):
    missing = str(tmp_path / "missing.txt")
    with pytest.raises(FileNotFoundError) as e:
        call(missing)
    assert e.value.filename == missing and e.value.errno == 2
    assert e.value.strerror == "No such file or directory"
    with pytest.raises(IsADirectoryError) as d:
        call(str(tmp_path))
    assert d.value.filename == str(tmp_path)


# --- panics --------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["1", "thread"])
def test_a_panic_is_an_exception(where, monkeypatch):
    monkeypatch.setenv("FLAMEFOLD_TEST_PANIC", where)
    for call in (lambda: flamefold.collapse_perf(FUNCAB), lambda: flamefold.read_folded(b"a;b 1\n"), lambda: flamefold.diff(BEFORE, AFTER)):
        try:
            call()
        except Exception as e:  # noqa: BLE001 - the point: `except Exception` catches it
            assert isinstance(e, flamefold.InternalError) and isinstance(e, RuntimeError)
            assert str(e).startswith("internal error: FLAMEFOLD_TEST_PANIC") and str(e).endswith("(please report)")
        else:
            raise AssertionError("no exception")
    monkeypatch.delenv("FLAMEFOLD_TEST_PANIC")
    assert flamefold.read_folded(b"a;b 1\n").total == 1


@pytest.mark.parametrize("name", ["stackcollapse-perf", "collapse", "graph", "diff", "diff --html", "difffolded"])
def test_a_panic_in_the_cli_is_one_line(name):
    cmd, *args = COMMANDS[name]
    r = run(exe(cmd), *args, env={"FLAMEFOLD_TEST_PANIC": "thread"})
    assert r.returncode == 70 and r.stdout == b""
    line = one_line(r.stderr)
    assert line.startswith(f"{prog_of(name)}: error: internal error: FLAMEFOLD_TEST_PANIC in a worker thread")
    assert line.endswith("(please report)\n")


# --- control characters --------------------------------------------------------------------

EVIL = "\x1b]0;pwned\x07"


def test_warnings_and_names_are_escaped(tmp_path):
    data = FUNCAB.read_text().replace("\n\n", f"\n\n{EVIL}\x9b2J\t\n\n", 1)
    src = tmp_path / f"in{EVIL}.txt"
    src.write_text(data)
    folded = tmp_path / f"f{EVIL}.folded"
    folded.write_bytes(FOLDED.read_bytes() + f"bad{EVIL} line\n".encode() + b"caf\xff x\n")
    runs = [
        run(exe("stackcollapse-perf"), src),
        run(exe("stackcollapse-perf"), src, FUNCAB),
        run(exe("flamefold"), "collapse", src, "-o", tmp_path / "o"),
        run(exe("flamefold"), "collapse", "--each", "--outdir", tmp_path / "each", src),
        run(exe("flamefold"), "graph", folded, FOLDED),
        run(exe("flamefold"), "diff", folded, FOLDED),
        run(exe("difffolded"), folded, FOLDED),
        run(exe("flamefold"), "graph", tmp_path / f"missing{EVIL}"),
        run(exe("flamefold"), "collapse", tmp_path / f"missing{EVIL}"),
        run(exe("flamefold"), "collapse", "--threads", EVIL),
    ]
    for r in runs:
        text = r.stderr.decode("utf-8", "surrogateescape")
        assert r.stderr, r
        assert not any(c in text for c in "\x1b\x07\x9b\t"), text
        assert "\\x1b]0;pwned\\x07" in text, text
    assert "\\x9b2J\\x09" in runs[0].stderr.decode()
    with pytest.warns(flamefold.ParseWarning) as caught:
        flamefold.collapse_perf(data.encode())
    assert any(EVIL in str(w.message) for w in caught)  # the API keeps the text raw


def test_bytes_that_are_not_utf8_are_shown_as_escapes(tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(FUNCAB.read_bytes().replace(b"\n\n", b"\n\n\xff\xfe\x1b[2J\n\n", 1))
    r = run(exe("stackcollapse-perf"), src)
    assert r.returncode == 0 and b"unrecognized line: \\xff\\xfe\\x1b[2J\n" in r.stderr, r.stderr


def test_escape():
    from flamefold.cli import escape

    assert escape("a\tb\x00\x7f\x85\u202e" + "\udcff" + "é→") == "a\\x09b\\x00\\x7f\\x85\\u202e\\xffé→"
