"""``hitl_bench.trace``'s report on synthetic marks: one timeline per system, steps in median
order with their gaps, repeated steps numbered, warm-up interactions left out."""

from pathlib import Path

from hitl_bench import trace


def write_marks(directory: Path, name: str, marks: list[tuple[float, str]]) -> None:
    (directory / name).write_text("".join(f"{t:.7f} {step}\n" for t, step in marks))


def test_the_report_cuts_interactions_per_system_and_orders_steps(tmp_path: Path) -> None:
    bench, broker, peer = [], [], []
    for n in range(2 * trace.WARM_UP + 10):
        start = n * 1.0
        hitl = n % 2 == 0
        bench += [(start, "B.ask"), (start + 0.001, "B.write:5672")]
        service = broker if hitl else peer
        role = "K" if hitl else "P"
        service += [(start + 0.002, f"{role}.on_request"), (start + 0.003, f"{role}.write:5672")]
        service += [(start + 0.004, f"{role}.write:5672")]
        bench += [(start + 0.005, "B.ask:done")]
    write_marks(tmp_path, "B-1.txt", bench)
    write_marks(tmp_path, "K-2.txt", broker)
    write_marks(tmp_path, "P-3.txt", peer)

    asks = trace.interactions(trace.read_marks(tmp_path))
    assert [len(asks["hitl"]), len(asks["peer"])] == [trace.WARM_UP + 5] * 2
    report = trace.report(tmp_path).splitlines()
    assert report[0] == "hitl: 5 interactions (median ms since ask, gap)"  # after the warm-up
    assert [line.split()[-1] for line in report[1:7]] == [
        "B.ask",
        "B.write:5672",
        "K.on_request",
        "K.write:5672",
        "K.write:5672#2",
        "B.ask:done",
    ]
    assert report[4].split()[:3] == ["3.000", "+", "1.000"]
    assert "P.on_request" in report[-4] and report[7].startswith("peer: 5 interactions")
