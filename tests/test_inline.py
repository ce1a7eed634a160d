"""--inline / --context (addr2line) on a real binary, and --srcline on perf script -F+srcline text."""

import shutil
import subprocess

import pytest

import flamefold

C_SOURCE = r"""
volatile int sink;
static inline __attribute__((always_inline)) void leaf(int i) { sink += i * 3; sink ^= i; }
static inline __attribute__((always_inline)) void mid(int i) { sink += 1; leaf(i); sink -= 2; }
int main(void) { for (int i = 0; i < 1000; i++) { mid(i); } return 0; }
"""


@pytest.fixture(scope="module")
def inlined_binary(tmp_path_factory):
    for tool in ("gcc", "addr2line", "nm"):
        assert shutil.which(tool), f"{tool} is needed for this test (binutils, gcc)"
    d = tmp_path_factory.mktemp("inl")
    src = d / "inl.c"
    src.write_text(C_SOURCE)
    exe = d / "inl"
    subprocess.run(["gcc", "-O2", "-g", "-no-pie", "-o", str(exe), str(src)], check=True)
    return exe


def leaf_address(exe):
    """An address inside main where addr2line reports the inline chain main > mid > leaf."""
    nm = subprocess.run(["nm", "-S", str(exe)], capture_output=True, text=True, check=True).stdout
    start, size = next((int(a, 16), int(s, 16)) for a, s, t, n in (l.split() for l in nm.splitlines() if len(l.split()) == 4) if n == "main")
    addrs = [hex(a) for a in range(start, start + size)]
    out = subprocess.run(["addr2line", "-a", "-i", "-f", "-e", str(exe)], input="\n".join(addrs), capture_output=True, text=True, check=True).stdout
    blocks = out.split("0x")
    for block in blocks:
        lines = block.strip().splitlines()
        funcs = lines[1::2]
        if funcs[:3] == ["leaf", "mid", "main"]:
            return "0x" + lines[0].lstrip("0") if lines[0].strip("0") else None
    pytest.fail("gcc did not inline leaf into mid into main")


def perf_text(exe, addr):
    return f"inl 100 1.0: 1 cycles:\n\t{addr[2:]} main+0x{int(addr, 16) % 64:x} ({exe})\n\n".encode()


def test_inline_unfolds_the_chain(inlined_binary):
    addr = leaf_address(inlined_binary)
    p = flamefold.collapse_perf(perf_text(inlined_binary, addr), inline=True)
    assert list(p.items()) == [("inl;main;mid;leaf", 1)]
    # without --inline: one frame
    assert list(flamefold.collapse_perf(perf_text(inlined_binary, addr)).items()) == [("inl;main", 1)]


def test_context_appends_file_and_line(inlined_binary):
    addr = leaf_address(inlined_binary)
    p = flamefold.collapse_perf(perf_text(inlined_binary, addr), inline=True, context=True)
    (stack, count), = p.items()
    frames = stack.split(";")
    assert frames[0] == "inl" and count == 1
    assert [f.split(":")[0] for f in frames[1:]] == ["main", "mid", "leaf"]
    assert all(f.split(":")[1] == "inl.c" and f.split(":")[2].isdigit() for f in frames[1:])


def test_inline_leaves_kernel_and_missing_modules_alone(inlined_binary):
    text = b"inl 100 1.0: 1 cycles:\n\tffffffff81000000 do_syscall_64+0x1 ([kernel.kallsyms])\n\t401000 main+0x1 (/nonexistent/binary)\n\n"
    with pytest.warns(flamefold.ParseWarning, match="addr2line.*nonexistent"):
        p = flamefold.collapse_perf(text, inline=True)
    assert list(p.items()) == [("inl;main;do_syscall_64", 1)]


def test_srcline():
    text = (
        b"a.out 7 1.0: 1 cycles:\n"
        b"\t 935 main+0x935 (/a.out)\n"
        b"  file.cpp:137\n"
        b"\t 6750 [unknown] (/usr/lib64/libkmod.so.2.3.6)\n"
        b"  libkmod.so.2.3.6[6750]\n"
        b"\tffffffff81000000 up_write+0x1 ([kernel.kallsyms])\n"
        b"  [kernel.kallsyms][ffffffff81000000]\n"
        b"\n"
    )
    p = flamefold.collapse_perf(text, srcline=True, kernel=True)
    # perf prints the leaf first: the root is the last frame line
    assert list(p.items()) == [("a.out;up_write_[k];[libkmod.so.2.3.6]:libkmod.so.2.3.6;main:file.cpp:137", 1)]
