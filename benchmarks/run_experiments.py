"""Run the registered experiments at full size and write the results page.

    python benchmarks/run_experiments.py                      # every experiment (long)
    python benchmarks/run_experiments.py vae-hz dense-ae      # some of them
    python benchmarks/run_experiments.py --render             # only rewrite the pages

Each experiment runs as ``autoencoders experiment run NAME --out DIR`` would (same function,
same defaults) into ``--work`` (default ``runs/results``). Its summary (command, wall time,
machine, table, notes) goes to ``benchmarks/results/NAME.json`` and its figures to
``docs/_static/results/NAME/``; then the pages are rendered from every summary present:
``benchmarks/results.md`` and ``docs/results.rst`` for the classic experiments,
``benchmarks/results_families.md`` and ``docs/results_families.rst`` for ``families``. So
experiments can be run one at a time, on different days, and the pages stay whole. Nothing on the pages is typed by hand: rerun to refresh.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import threading
import time
from pathlib import Path

import torch

from autoencoders import __version__, runs

ROOT = Path(__file__).resolve().parents[1]
SUMMARIES = ROOT / "benchmarks" / "results"
FIGURES = ROOT / "docs" / "_static" / "results"
MARKDOWN = ROOT / "benchmarks" / "results.md"
RST = ROOT / "docs" / "results.rst"


def machine() -> str:
    cpus = os.cpu_count() or "?"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{platform.processor() or platform.machine()}, {cpus} CPUs, {gpu}; torch "
        f"{torch.__version__}, autoencoders {__version__}"
    )


class LoadSampler:
    """The 1-minute load average every ``every`` seconds while an experiment runs: its mean
    and maximum say whether other work shared the machine (and so lengthened the wall time)."""

    def __init__(self, every: float = 30.0) -> None:
        self.every, self.samples = every, [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])


def run_one(name: str, work: Path, device: str, resume: bool = False) -> dict:
    exp = runs.get_experiment(name)
    out = work / exp.name
    command = f"autoencoders experiment run {exp.name} --out {out.relative_to(work.parent)}"
    start = time.perf_counter()
    with LoadSampler() as load:
        result = runs.run_experiment(
            exp, out=out, overwrite=True, resume=resume, device=device, command=command
        )
    wall = time.perf_counter() - start
    target = FIGURES / exp.name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    figures = []
    for path, caption in result.figures:
        shutil.copyfile(path, target / path.name)
        figures.append({"file": path.name, "caption": caption})
    md = (result.dir / "comparison.md").read_text(encoding="utf-8")
    table = [line for line in md.splitlines() if line.startswith("|")]
    train_seconds = round(sum(r.seconds for r in result.runs.values()), 1)
    summary = {
        "name": exp.name,
        "title": exp.title,
        "description": exp.description,
        "command": command,
        "wall_seconds": round(wall, 1),
        # a resumed experiment reused the runs that had finished: its wall time is that of the
        # last part only, while the runs' own training times add up to the whole (a resume
        # that found nothing finished trained every run now: its wall time is the whole)
        "resumed": resume and wall < train_seconds,
        "train_seconds": train_seconds,
        # the 1-minute load average, sampled every 30 s: its mean and maximum (above the CPU
        # count, other work shared the machine and the wall time is longer than on an idle one)
        "load": {
            "mean": round(sum(load.samples) / len(load.samples), 1),
            "max": round(max(load.samples), 1),
        },
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "data": json.loads((result.dir / "experiment.json").read_text())["data"],
        "notes": result.notes,
        "table": table,
        "figures": figures,
    }
    SUMMARIES.mkdir(parents=True, exist_ok=True)
    (SUMMARIES / f"{exp.name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _load(summary: dict) -> str:
    """The load the experiment ran under, as recorded (older summaries: before and after)."""
    load = summary["load"]
    if isinstance(load, dict):
        return f"1-minute load average {load['mean']} on average, {load['max']} at most"
    return f"load average {load[0]} before, {load[1]} after (not sampled in between)"


def _wall(summary: dict) -> str:
    s = summary
    where = f"on {s['machine']} ({s['date']}; {_load(s)})"
    if s.get("resumed"):
        return (
            f"Wall time: {s['wall_seconds']:.0f} s for the last part of a resumed experiment "
            f"(its runs trained for {s['train_seconds']:.0f} s in all) {where}"
        )
    return f"Wall time: {s['wall_seconds']:.0f} s {where}"


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


#: Columns left off the documentation's tables (kept in benchmarks/results.md and the JSON):
#: PSNR restates the MSE beside it, and train times depend on the load.
PAGE_DROPS = {"test PSNR (dB)", "denoising PSNR (dB)", "train time (s)"}
#: At most this many columns per table on the page (beside the run's name): a wider table is
#: cut into several, each starting with the run, so that every one fits the text column.
PAGE_COLUMNS = 6


def _rst_table(table: list[str]) -> list[str]:
    rows = [_cells(line) for line in table if not set(line) <= set("|-: ")]
    keep = [i for i, name in enumerate(rows[0]) if name not in PAGE_DROPS]
    key = [i for i in keep if rows[0][i] in ("rank", "run")]
    rest = [i for i in keep if i not in key]
    out: list[str] = []
    for start in range(0, max(len(rest), 1), PAGE_COLUMNS):
        cols = key + rest[start : start + PAGE_COLUMNS]
        out += [".. list-table::", "   :header-rows: 1", "   :class: results-table", ""]
        for row in rows:
            for j, i in enumerate(cols):
                cell = row[i].replace("`", "``") or "\\ "
                out.append(("   * - " if j == 0 else "     - ") + cell)
        out.append("")
    return out


#: The pages the summaries are rendered into: the classic experiments on one, the model
#: families (one experiment, with a check per family) on their own.
FAMILIES = "families"
PAGES = (
    {
        "title": "Results of the classic experiments",
        "markdown": MARKDOWN,
        "rst": RST,
        "includes": lambda name: name != FAMILIES,
        "about": "",
    },
    {
        "title": "Results of the model families",
        "markdown": ROOT / "benchmarks" / "results_families.md",
        "rst": ROOT / "docs" / "results_families.rst",
        "includes": lambda name: name == FAMILIES,
        "about": (
            "Each family beyond the classics is one part swapped or added on the same dense "
            "784-400-16 backbone, and all of them are trained on Fashion-MNIST with the same "
            "budget, so the table compares the parts and nothing else. Each family's check "
            "(what the family is for: the IWAE's bound tighter than the VAE's, the CVAE's "
            "samples of the class asked for, ...) is a note above the table, stated as "
            "measured: it says whether the check passed, and by how much. The same checks "
            "run at a small size in the test suite (`tests/test_families.py`, "
            "`tests/test_conditional.py`)."
        ),
    },
)


def render() -> None:
    summaries = [json.loads(p.read_text()) for p in sorted(SUMMARIES.glob("*.json"))]
    order = {n: i for i, n in enumerate(runs.experiment_names())}
    summaries.sort(key=lambda s: order.get(s["name"], len(order)))
    for page in PAGES:
        names = [n for n in runs.experiment_names() if page["includes"](n)]
        mine = [s for s in summaries if page["includes"](s["name"])]
        _render_page(page, mine, [n for n in names if n not in {s["name"] for s in mine}])


def _render_page(page: dict, summaries: list[dict], missing: list[str]) -> None:
    intro = (
        "Every experiment at full size (its default settings), run with "
        "`python benchmarks/run_experiments.py NAME`, which calls what "
        "`autoencoders experiment run NAME` calls. Wall times are for the whole experiment "
        "(training, metrics, figures) on the machine named with each, with the load it ran "
        "under: a load above the number of CPUs means other work shared the machine, so the "
        "time is an upper bound, not a speed figure. The tables and figures do not depend on "
        "the load (every run is seeded)."
    )
    title, markdown, rst_path = page["title"], page["markdown"], page["rst"]
    md = [f"# {title}", ""] + ([page["about"], ""] if page["about"] else []) + [intro, ""]
    rst = [title, "=" * len(title), ""]
    if page["about"]:
        rst += [page["about"].replace("`", "``"), ""]
    rst += [
        intro.replace("`", "``"),
        "",
        "Generated by ``benchmarks/run_experiments.py``. To fit the page, the tables here "
        "leave out the PSNR columns (they restate the MSE) and the train times, and a wide "
        "table is cut into parts that each start with the run; "
        f"``benchmarks/{markdown.name}`` has every table whole.",
        "",
    ]
    unsampled = [s["name"] for s in summaries if not isinstance(s["load"], dict)]
    if unsampled:
        line = (
            "The load of " + ", ".join(unsampled) + " was read only before and after the run; "
            "those runs shared the 2 CPUs with test runs for part of the time, so their wall "
            "times (and the per-run train times in their tables) are upper bounds."
        )
        md += [line, ""]
        rst += [line, ""]
    if missing:
        line = "Not run at full size yet: " + ", ".join(missing) + "."
        md += [line, ""]
        rst += [line, ""]
    for s in summaries:
        head = f"{s['name']}: {s['title']}"
        facts = [
            f"Command: `{s['command']}`",
            _wall(s),
            f"Data: `{s['data']}`",
        ]
        md += [f"## {head}", "", s["description"], ""]
        md += [f"- {f}" for f in facts] + [""]
        md += [f"> {n}" for n in s["notes"]] + ([""] if s["notes"] else [])
        md += s["table"] + [""]
        rst += [head, "-" * len(head), "", s["description"].replace("`", "``"), ""]
        rst += [f"* {f.replace('`', '``')}" for f in facts] + [""]
        for n in s["notes"]:
            rst += [".. note::", "", "   " + n.replace("`", "``"), ""]
        rst += [*_rst_table(s["table"]), ""]
        for fig in s["figures"]:
            rel = f"_static/results/{s['name']}/{fig['file']}"
            md += [f"![{fig['caption']}](../docs/{rel})", "", f"*{fig['caption']}*", ""]
            rst += [f".. figure:: {rel}", "   :width: 100%", "", f"   {fig['caption']}", ""]
    markdown.write_text("\n".join(md).rstrip() + "\n")
    rst_path.write_text("\n".join(rst).rstrip() + "\n")
    print(
        f"wrote {markdown.relative_to(ROOT)} and {rst_path.relative_to(ROOT)} "
        f"({len(summaries)} experiments)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="experiments to run (default: all)")
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "results")
    p.add_argument("--device", default="auto")
    p.add_argument("--render", action="store_true", help="only rewrite the pages")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue experiments stopped before: reuse their finished runs (see "
        "'autoencoders experiment run --resume')",
    )
    args = p.parse_args(argv)
    if not args.render:
        for name in args.names or runs.experiment_names():
            print(f"== {name}", flush=True)
            s = run_one(name, args.work, args.device, args.resume)
            print(f"   {s['wall_seconds']:.0f} s", flush=True)
    render()
    return 0


if __name__ == "__main__":
    sys.exit(main())
