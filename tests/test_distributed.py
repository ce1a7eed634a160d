"""flamefold.distributed on a real LocalCluster (2 worker processes): equal to collapse_many,
run on the workers with a merge tree, grouping, errors, keep_going and the CLI helper."""

import os
import re
import sys
import warnings

import pytest

distributed = pytest.importorskip("distributed", reason="flamefold.distributed needs dask[distributed] (the test extra installs it)")

import flamefold  # noqa: E402
from flamefold import distributed as fd  # noqa: E402
from conftest import DATA  # noqa: E402

INPUTS = DATA / "collapse" / "inputs"
ALL = sorted(str(p) for p in INPUTS.iterdir())
TWO_EVENTS = str(INPUTS / "perf-cycles-instructions-01.txt")  # instructions first, then cycles
NO_EVENTS = str(INPUTS / "inferno-no-events.txt")
WITH_WARNING = str(INPUTS / "inferno-empty-line.txt")

# the corpus has captures with warnings: collapse() re-emits them (checked once, below)
pytestmark = pytest.mark.filterwarnings("ignore::flamefold.ParseWarning")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c


def quiet_many(paths, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return flamefold.collapse_many(paths, **options)


def same_as_many(result, paths, **options):
    """The whole result, metadata too, is what collapse_many gives on the same captures."""
    many = quiet_many(paths, **options)
    assert result.profile == many
    assert result.profile.to_folded() == many.to_folded()
    # the Profile itself carries the metadata too (it pickles with it)
    assert (result.profile.event, result.profile.dropped, result.profile.warnings) == (many.event, many.dropped, many.warnings)
    assert result.event == many.event
    assert result.dropped == many.dropped
    assert [(line, msg) for _, line, msg in result.warnings] == many.warnings
    assert result.paths == [str(p) for p in paths]


@pytest.mark.parametrize(
    "paths, options",
    [
        # a few dozen captures; the first has two events (instructions kept, cycles dropped in all)
        ([TWO_EVENTS] + ALL + ALL[::-1], {}),
        # the first names no event: each other capture keeps its own first event
        ([NO_EVENTS] + ALL, {"pid": True, "kernel": True}),
        (ALL, {"event_filter": "cpu-clock", "tid": True, "jit": True, "addrs": True}),
        ([ALL[0]], {}),
    ],
    ids=["two-events-first", "no-events-first", "event-filter", "one"],
)
def test_equals_collapse_many(client, paths, options):
    result = fd.collapse_detailed(paths, client=client, split_every=4, **options)
    same_as_many(result, paths, **options)
    assert result.failures == []
    assert sum(result.tasks_per_worker.values()) == len(paths)


def test_tasks_and_merges_run_on_the_workers(client):
    paths = ALL + ALL  # 54 captures: 54 -> 7 -> 1 merges with split_every=8
    with distributed.get_task_stream(client) as ts:
        result = fd.collapse_detailed(paths, client=client)
    same_as_many(result, paths)
    workers = client.scheduler_info()["workers"]
    assert set(result.tasks_per_worker) <= set(workers)
    assert sum(result.tasks_per_worker.values()) == len(paths)
    pids = client.run(os.getpid)
    assert set(pids) == set(workers) and os.getpid() not in pids.values()
    ran = [(t["key"], t["worker"]) for t in ts.data]
    collapses = [k for k, w in ran if str(k).startswith("flamefold-collapse-")]
    merges = [k for k, w in ran if str(k).startswith("flamefold-merge-")]
    assert len(collapses) == len(paths)
    assert len(merges) == 7 + 1  # a tree on the workers, not a fold on the client
    assert all(w in workers for _, w in ran)
    # only the merged, compressed stacks come back
    assert 0 < result.bytes_to_client < len(result.profile.to_folded().encode("utf-8", "surrogateescape"))


def test_collapse_returns_a_profile_and_reemits_warnings(client):
    paths = [WITH_WARNING, ALL[1]]
    with pytest.warns(flamefold.ParseWarning, match=re.escape(WITH_WARNING) + ": line "):
        p = fd.collapse(paths, client=client)
    assert isinstance(p, flamefold.Profile)
    assert p == quiet_many(paths)


def test_current_client_is_the_default(client):
    with client.as_current():
        assert fd.collapse(ALL[:3]) == quiet_many(ALL[:3])


def test_no_client_is_a_clear_error():
    with pytest.raises(RuntimeError, match="needs a Dask client"):
        fd.collapse(ALL[:1])


def test_relative_paths_and_file_urls(client, monkeypatch):
    monkeypatch.chdir(INPUTS)
    names = ["perf-java-stacks-02.txt", "real-tid.perf.txt.gz"]
    expected = quiet_many([INPUTS / n for n in names])
    assert fd.collapse(names, client=client) == expected  # made absolute here
    pytest.importorskip("fsspec")
    assert fd.collapse([f"file://{INPUTS / n}" for n in names], client=client) == expected


def test_grouping(client):
    paths = ALL + [TWO_EVENTS]
    by_regex = fd.collapse(paths, client=client, by=r"/([a-z]+)-[^/]*$")  # the first group
    by_call = fd.collapse(paths, client=client, by=lambda p: os.path.basename(p).split("-")[0])
    assert list(by_regex) == list(by_call) == ["example", "inferno", "perf", "real"]  # first seen first
    for label, profile in by_call.items():
        group = [p for p in paths if os.path.basename(p).split("-")[0] == label]
        assert profile == quiet_many(group), label  # each group keeps its own first event
        assert by_regex[label] == profile
    d = flamefold.diff(by_call["perf"], by_call["real"])
    assert d.totals == (by_call["perf"].total, by_call["real"].total)
    whole = fd.collapse(paths, client=client, by=r"inputs/[a-z]+")  # no group: the whole match
    assert set(whole) == {"inputs/example", "inputs/inferno", "inputs/perf", "inputs/real"}
    with pytest.raises(ValueError, match="no label"):
        fd.collapse(paths, client=client, by=r"/nomatch-")


def test_failing_capture_names_its_path(client, tmp_path):
    missing = str(tmp_path / "host7.perf.txt")
    with pytest.raises(fd.CaptureError) as e:
        fd.collapse(ALL[:5] + [missing] + ALL[5:10], client=client)
    assert e.value.path == missing
    assert str(e.value) == f"{missing}: No such file or directory"
    junk = tmp_path / "junk.txt"
    junk.write_bytes(b"hello world\n")
    with pytest.raises(fd.CaptureError, match=re.escape(str(junk)) + r": line 1: no `perf script` sample header found") as e:
        fd.collapse([str(junk)] + ALL[:3], client=client)  # the first capture fails
    assert "\n" not in str(e.value)
    # the cluster is still usable afterwards
    assert fd.collapse(ALL[:2], client=client) == quiet_many(ALL[:2])


def test_keep_going(client, tmp_path):
    missing = str(tmp_path / "gone.txt")
    junk = tmp_path / "junk.txt"
    junk.write_bytes(b"hello world\n")
    # the first captures fail: the first that works sets the event, as collapse_many of the rest
    paths = [missing, str(junk), TWO_EVENTS] + ALL[:10] + [missing]
    good = [TWO_EVENTS] + ALL[:10]
    result = fd.collapse_detailed(paths, client=client, keep_going=True)
    many = quiet_many(good)
    assert result.profile == many and result.event == many.event == "instructions" and result.dropped == many.dropped
    assert [(line, msg) for _, line, msg in result.warnings] == many.warnings
    assert [p for p, _ in result.failures] == [missing, str(junk), missing]
    assert result.failures[0][1] == "No such file or directory"
    with pytest.warns(fd.CaptureFailedWarning) as rec:
        p = fd.collapse(paths, client=client, keep_going=True, event_filter="cycles")
    fails = [str(w.message) for w in rec if w.category is fd.CaptureFailedWarning]
    assert fails == [f"{missing}: No such file or directory", f"{junk}: line 1: no `perf script` sample header found (unrecognized line: hello world)", f"{missing}: No such file or directory"]
    assert p == quiet_many(good, event_filter="cycles")
    everything_fails = fd.collapse_detailed([missing, missing], client=client, keep_going=True)
    assert len(everything_fails.profile) == 0 and len(everything_fails.failures) == 2


def test_progress_is_reported(client):
    seen = []
    fd.collapse(ALL[:6], client=client, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 6) and seen[-1] == (6, 6)


def test_bad_arguments(client):
    with pytest.raises(ValueError, match="at least one"):
        fd.collapse([], client=client)
    with pytest.raises(TypeError, match="unknown collapse option"):
        fd.collapse(ALL[:1], client=client, colour=True)
    with pytest.raises(TypeError, match="by must be"):
        fd.collapse(ALL[:1], client=client, by=3)


def test_run_cli_through_the_scheduler(cluster, tmp_path, capsys, monkeypatch):
    out = tmp_path / "merged.folded"
    paths = [TWO_EVENTS] + ALL
    assert fd.run_cli(paths, cluster.scheduler_address, str(out), False, quiet=True, pid=True) == 0
    assert out.read_text() == quiet_many(paths, pid=True).to_folded()
    # keep going: the others are written, each failure is one line, the status says it failed
    missing = str(tmp_path / "gone.txt")
    out2 = tmp_path / "rest.folded"
    assert fd.run_cli([missing] + ALL[:4], cluster.scheduler_address, str(out2), True, quiet=True) == 1
    assert out2.read_text() == quiet_many(ALL[:4]).to_folded()
    err = capsys.readouterr().err.splitlines()
    assert f"flamefold collapse: error: {missing}: No such file or directory" in err
    # without it: an error, nothing written
    out3 = tmp_path / "none.folded"
    assert fd.run_cli(ALL[:2] + [missing], cluster.scheduler_address, str(out3), False) == 1
    assert not out3.exists()
    assert capsys.readouterr().err.splitlines()[-1] == f"flamefold collapse: error: {missing}: No such file or directory"
    # nothing worked: nothing written
    out4 = tmp_path / "nothing.folded"
    assert fd.run_cli([missing, missing], cluster.scheduler_address, str(out4), True, quiet=True) == 1
    assert not out4.exists()
    assert capsys.readouterr().err.splitlines()[-1] == "flamefold collapse: error: no capture could be collapsed"
    # what `graph --scheduler` and `diff --scheduler` would use: the merged profile and the status
    profile, status = fd.cli_collapse(ALL[:3], cluster.scheduler_address, False, quiet=True, prog="flamefold graph")
    assert status == 0 and profile == quiet_many(ALL[:3])
    # standard output, with the progress line a terminal gets
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert fd.run_cli(ALL[:3], cluster.scheduler_address, None, False) == 0
    captured = capsys.readouterr()
    assert captured.out == quiet_many(ALL[:3]).to_folded()
    assert f"\rcollapsing on {cluster.scheduler_address}: 3/3 captures" in captured.err


def test_run_cli_without_a_scheduler(capsys):
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert fd.run_cli(ALL[:1], "tcp://127.0.0.1:9", None, False) == 1
    assert "cannot connect to the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err


# --- the command line: `--scheduler` on collapse, graph and diff ---


def flamefold_cli(*args, stdin=None, env=None):
    import subprocess

    return subprocess.run([sys.executable, "-m", "flamefold", *map(str, args)], input=stdin, capture_output=True, env=env)


def test_cli_collapse_scheduler(cluster, tmp_path):
    address = cluster.scheduler_address
    out = tmp_path / "merged.folded"
    paths = ALL[:6]
    r = flamefold_cli("collapse", "--scheduler", address, *paths, "-o", out, "--pid", "-q")
    assert r.returncode == 0, r.stderr
    assert out.read_text() == quiet_many(paths, pid=True).to_folded()
    # standard output; a folder stands for its files
    folder = tmp_path / "captures"
    folder.mkdir()
    for p in paths:
        (folder / os.path.basename(p)).write_bytes(open(p, "rb").read())
    r = flamefold_cli("collapse", "--scheduler", address, folder, "-q")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == quiet_many(sorted(str(p) for p in folder.iterdir())).to_folded()
    # other formats: sniffed on the workers as `flamefold collapse` sniffs them
    jstack = DATA / "jstack" / "inputs" / "java17-5-dumps.txt"
    r = flamefold_cli("collapse", "--scheduler", address, jstack, jstack, "--shorten-pkgs")
    assert r.returncode == 0, r.stderr
    one = flamefold.collapse(str(jstack), shorten_pkgs=True)
    assert r.stdout.decode() == (one + one).to_folded()
    # speedscope of the merged profile
    r = flamefold_cli("collapse", "--scheduler", address, *paths, "--speedscope", "-o", tmp_path / "p.json")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "p.json").read_bytes() == quiet_many(paths).to_speedscope(name="merged")


def test_cli_collapse_scheduler_keep_going(cluster, tmp_path):
    address = cluster.scheduler_address
    missing = str(tmp_path / "gone.txt")
    out = tmp_path / "rest.folded"
    r = flamefold_cli("collapse", "--scheduler", address, "--keep-going", "-q", missing, *ALL[:3], "-o", out)
    assert r.returncode == 1
    assert out.read_text() == quiet_many(ALL[:3]).to_folded()
    err = r.stderr.decode().splitlines()
    assert f"flamefold collapse: error: {missing}: No such file or directory" in err
    assert "Traceback" not in r.stderr.decode()
    out2 = tmp_path / "none.folded"
    r = flamefold_cli("collapse", "--scheduler", address, missing, *ALL[:2], "-o", out2)
    assert r.returncode == 1 and not out2.exists()
    assert r.stderr.decode().splitlines()[-1] == f"flamefold collapse: error: {missing}: No such file or directory"


def test_cli_graph_and_diff_scheduler(cluster, tmp_path):
    address = cluster.scheduler_address
    paths = ALL[:5]
    merged = quiet_many(paths)
    r = flamefold_cli("graph", "--scheduler", address, *paths, "-o", tmp_path / "g.svg", "-q")
    assert r.returncode == 0, r.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert (tmp_path / "g.svg").read_text() == flamefold.flamegraph(merged)
    r = flamefold_cli("diff", "--scheduler", address, "--folded", paths[0], paths[1], "-q")
    assert r.returncode == 0, r.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = flamefold.diff(flamefold.collapse_perf(paths[0]), flamefold.collapse_perf(paths[1])).to_folded()
    assert r.stdout.decode() == want


@pytest.mark.parametrize(
    "args, message",
    [
        (["collapse", "--scheduler", "tcp://127.0.0.1:9", "-"], "not standard input"),
        (["collapse", "--scheduler", "tcp://127.0.0.1:9"], "not standard input"),
        (["collapse", "--scheduler", "tcp://127.0.0.1:9", "--each", "--outdir", "x", ALL[0]], "--each"),
        (["collapse", "--scheduler", "tcp://127.0.0.1:9", "--threads", "2", ALL[0]], "--threads"),
        (["graph", "--scheduler", "tcp://127.0.0.1:9", "--threads", "2", ALL[0]], "--threads"),
        (["diff", "--scheduler", "tcp://127.0.0.1:9", "-", ALL[0]], "not standard input"),
        (["collapse", "--keep-going", ALL[0]], "--keep-going goes with --scheduler"),
    ],
)
def test_cli_scheduler_usage_errors(args, message):
    r = flamefold_cli(*args)
    err = r.stderr.decode()
    assert r.returncode == 2 and message in err and "Traceback" not in err, err
    assert err.startswith(f"usage: flamefold {args[0]}")


def test_cli_scheduler_unreachable():
    env = dict(os.environ, DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="1s")
    r = flamefold_cli("collapse", "--scheduler", "tcp://127.0.0.1:9", ALL[0], stdin=b"", env=env)
    assert r.returncode == 1
    assert "cannot connect to the Dask scheduler at tcp://127.0.0.1:9" in r.stderr.decode()
    assert "Traceback" not in r.stderr.decode()


def test_the_cli_imports_dask_only_with_scheduler():
    import subprocess

    code = "import sys; from flamefold.cli import main; main(['collapse', '-q', %r]); print('dask' in sys.modules, 'flamefold.distributed' in sys.modules, file=sys.stderr)" % ALL[0]
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stderr.strip().splitlines()[-1] == "False False", r.stderr


def test_cli_scheduler_without_dask_is_one_line():
    import subprocess

    code = "import sys; sys.modules['distributed'] = None; from flamefold.cli import main; sys.exit(main(['collapse', '--scheduler', 'tcp://127.0.0.1:9', %r]))" % ALL[0]
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "pip install 'flamefold[dask]'" in r.stderr and "Traceback" not in r.stderr
