"""`make bench`: run every bench/bench_*.py section and write BENCHMARKS.md.

Each section module exposes run() -> str, a markdown section whose figures are ratios measured
in the same run. A section that fails is reported as failed, not dropped silently.
"""
import argparse
import datetime
import importlib
import os
import pathlib
import platform
import sys
import time
import traceback

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "device"), str(ROOT / "host"), str(ROOT / "bench"), str(ROOT / "tests")]


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "%s, %d cores, Python %s, %s" % (cpu, os.cpu_count() or 0,
                                            platform.python_version(), platform.system())


def sections(only):
    names = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    return [n for n in names if not only or any(o in n for o in only)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="BENCHMARKS.md")
    ap.add_argument("only", nargs="*", help="run only sections whose name contains this")
    args = ap.parse_args(argv)
    zoo = os.environ.get("TINYML_MODEL_ZOO") or "(unset: corpus sections skipped)"
    parts = ["# Benchmarks", "",
             "Produced by `make bench` (`.venv/bin/python bench/run.py --out BENCHMARKS.md`) on %s."
             % datetime.date.today().isoformat(),
             "", "Machine: %s. Model corpus: `%s`." % (machine(), zoo),
             "All figures are ratios or counts measured in the same run.", ""]
    failed = 0
    for name in sections(args.only):
        t0 = time.time()
        print("bench: %s ..." % name, flush=True)
        try:
            text = importlib.import_module(name).run()
        except Exception:
            failed += 1
            text = "## %s\n\nFAILED:\n\n```\n%s```\n" % (name, traceback.format_exc())
        parts.append(text.rstrip() + "\n")
        print("bench: %s done in %.1f s" % (name, time.time() - t0), flush=True)
    pathlib.Path(args.out).write_text("\n".join(parts))
    print("bench: wrote %s" % args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
