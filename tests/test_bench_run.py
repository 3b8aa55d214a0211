"The bench runner: the Goal lines it reads, and a failing script recorded instead of aborting."
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)


def test_goal_lines():
    table = "\n".join([
        "| a | b |", "|---|---|", "| 1 | 2 |", "",
        "Goal: numba faster than torch (torch / numba >= 1.0x) (lowest 2.10x: met)",
        "Goal: at most 1.0x scipy on every grid (worst 1.30x: not met)",
        "Goal: fused <= 1.3x Adam foreach (1.10x: met) and <= 1.3x Adam fused (1.40x: not met).",
        "Goal: a line without a verdict",
        "no goal here (1.0x: met)"])
    assert run.goals(table) == [
        ("numba faster than torch (torch / numba >= 1.0x)", "lowest 2.10x", "met"),
        ("at most 1.0x scipy on every grid", "worst 1.30x", "not met"),
        ("fused <= 1.3x Adam foreach", "1.10x", "met"),
        ("fused <= 1.3x Adam fused", "1.40x", "not met"),
        ("a line without a verdict", "?", "no verdict")]


def test_every_owned_script_ends_with_goal_lines():
    "The scripts build their Goal lines with the same one-line helper (or print them, as diffgrad)."
    for path in sorted((ROOT / "bench").glob("bench_*.py")):
        src = path.read_text()
        if "def goal(" in src:
            assert "return f\"Goal: {text} ({value}: {'met' if ok else 'not met'})\"" in src, path


def test_failing_script_is_recorded(tmp_path):
    bad = tmp_path / "bench_broken.py"
    bad.write_text("def main():\n    raise RuntimeError('broken on purpose')\n")
    table, err, wall = run.run_one(bad, threads=1, timeout=120)
    assert table is None and "broken on purpose" in err and wall > 0
    good = tmp_path / "bench_fine.py"
    good.write_text("def main():\n    return 'x\\n\\nGoal: be fine (ok: met)'\n")
    table, err, _ = run.run_one(good, threads=1, timeout=120)
    assert err is None and run.goals(table) == [("be fine", "ok", "met")]


def test_subset_does_not_write(tmp_path, monkeypatch):
    "--only without --write prints and leaves the results file alone; --write writes it."
    out = tmp_path / "RESULTS.md"
    fake = lambda path, threads, timeout: ("t\n\nGoal: g (v: met)", None, 1.0)
    monkeypatch.setattr(run, "run_one", fake)
    run.main(["--only", "jlcm", "--out", str(out)])
    assert not out.exists()
    run.main(["--only", "jlcm", "--write", "--out", str(out)])
    text = out.read_text()
    assert "| jlcm | g | v | met | 1 |" in text and "load average" in text
    assert "1 of 1 goals met" in text


def test_a_goal_line_reads_back_as_written():
    "`goals.goal` writes what `run.goals` reads: one owner of the format for every script."
    goal = importlib.import_module("goals").goal
    table = "\n".join([goal("x at most 1.0x y", "0.50x", True), goal("z within 1e-6", "3e-5", False)])
    assert run.goals(table) == [("x at most 1.0x y", "0.50x", "met"),
                                ("z within 1e-6", "3e-5", "not met")]
