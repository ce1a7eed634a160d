"""Fidelity on real system-wide captures, beyond the Perl: `->` inside a C++/Rust type is part of
the symbol's name, not an inline chain; the samples of exited tasks (`:-1    -1`) fold under one
process."""

import flamefold

RUST_ARROW = (
    "std::sync::once_lock::OnceLock<T>::initialize::{{closure}}"
    "<fn() -> alloc::boxed::Box<dyn core::any::Any + core::marker::Send>>"
)


def collapse(text, **opts):
    return flamefold.collapse_perf(text.encode(), **opts).to_folded()


def sample(*frames, header="rustc 4242/4243 [003]   719.403207:     500250 cpu-clock:ppp: "):
    return header + "\n" + "".join(f"\t    55d0c3a1b2c4 {f}\n" for f in frames) + "\n"


def test_arrow_inside_a_type_is_one_frame():
    text = sample(
        RUST_ARROW + "+0x24 (/usr/bin/rustc)",
        "core::ops::function::FnOnce::call_once<fn() -> i32>+0x9 (/usr/bin/rustc)",
        "std::sync::once_lock::OnceLock<unsafe fn() -> Box<dyn Fn()>>::initialize+0x1 (/usr/bin/rustc)",
        "std::function<int () -> int>::operator()() const+0x3 (/usr/bin/app)",
        "std::unique_ptr<Foo, std::default_delete<Foo> >::operator->() const+0x3 (/usr/bin/app)",
        "main+0x10 (/usr/bin/rustc)",
    )
    got = collapse(text)
    assert "_[i]" not in got
    frames = got.rsplit(" ", 1)[0].split(";")
    assert frames == [
        "rustc",
        "main",
        "std::unique_ptr<Foo, std::default_delete<Foo> >::operator->",
        "std::function<int () -> int>::operator",
        "std::sync::once_lock::OnceLock<unsafe fn() -> Box<dyn Fn()>>::initialize",
        "core::ops::function::FnOnce::call_once<fn() -> i32>",
        RUST_ARROW,
    ]
    assert got.endswith(" 500250\n")


def test_return_type_arrow_does_not_close_the_template():
    # the `>` of `->` closed the `<` before it, so the `(` of `fn(u8)` was taken for the arguments
    got = collapse(sample("Foo<fn() -> i32, fn(u8)>::f(int)+0x1 (/usr/bin/app)"))
    assert got == "rustc;Foo<fn() -> i32, fn(u8)>::f 500250\n"


def test_perf_map_agent_inline_chain_still_splits():
    text = sample("Ljava/A;::a->Ljava/B;::b->Ljava/C;::c+0x4b (/tmp/perf-10487.map)", header="java 10487 1.0: 7 cycles: ")
    assert collapse(text) == "java;java/A:::a;java/B:::b_[i];java/C:::c_[i] 7\n"
    # a chain of typed frames splits between them, never inside their types
    text = sample("a<fn() -> i32>->b<fn() -> u8>+0x1 (/tmp/perf-1.map)")
    assert collapse(text) == "rustc;a<fn() -> i32>;b<fn() -> u8>_[i] 500250\n"


def exited(n, ids="-1"):
    """`n` samples of exited tasks, each at its own time and CPU, as perf prints them."""
    return "".join(
        sample("f+0x1 (/usr/bin/app)", "main (/usr/bin/app)", header=f":-1    {ids} [{k % 64:03d}]   {719 + k}.403207: 500250 cpu-clock:ppp: ")
        for k in range(n)
    )


def test_exited_tasks_fold_under_one_root():
    text = exited(1000)
    assert collapse(text) == ":-1;main;f 500250000\n"
    # one id is the tid, as for every other header (`java 10488 ...` gives `java-?/10488`)
    assert collapse(text, pid=True) == ":-1-?;main;f 500250000\n"
    assert collapse(text, tid=True) == ":-1-?/-1;main;f 500250000\n"
    both = exited(3, ids="-1/-1")
    assert collapse(both) == ":-1;main;f 1500750\n"
    assert collapse(both, pid=True) == ":-1--1;main;f 1500750\n"
    assert collapse(both, tid=True) == ":-1--1/-1;main;f 1500750\n"


def test_exited_tasks_mixed_with_live_ones():
    text = sample("work (/usr/bin/app)", header="app 10/11 [000] 1.0: 5 cycles: ") + exited(2).replace("cpu-clock:ppp", "cycles")
    assert collapse(text) == ":-1;main;f 1000500\napp;work 5\n"
    assert collapse(text, tid=True) == ":-1-?/-1;main;f 1000500\napp-10/11;work 5\n"
    assert not flamefold.collapse_perf(text.encode()).warnings
