"""``python -m local_pipeline`` (``make local ARGS="..."``): run the pipeline on a local emulator.

Progress goes to stderr; the summary table and (with ``--json``) one JSON object as the last
line go to stdout.

exit status:
  0    every change processed exactly once (poison changes dead-lettered, as they should be)
  1    a change was lost or processed twice, the run timed out, or it failed
  2    bad configuration or arguments
  3    nothing lost, but healthy changes were dead-lettered (outage casualties: redrive them)
  4    nothing lost, but SNS failed to deliver messages to a subscriber queue (too large for it: they are in
       its delivery DLQ, or were redriven); fix the size, redrive the delivery DLQ (docs/operations.md)
  130  interrupted (Ctrl-C, SIGTERM); a second Ctrl-C skips collecting results, the emulator still stops
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
from pathlib import Path

from pipeline_model.config import ConfigError, PipelineConfig, load_environments
from pipeline_model.errors import Problem
from pipeline_model.paths import open_output_file

from .runner import (
    EXIT_CASUALTIES,
    EXIT_DELIVERY_FAILED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    LocalPipeline,
    Options,
    exit_status,
)
from .timing import Timing
from .workload import Workload

DEFAULT_LOG = Path(__file__).resolve().parent.parent / ".build" / "local-pipeline.log"


def load_configs(path: str | None) -> list[PipelineConfig]:
    """The same environments `cdktf synth` would build: --config, else $PIPELINE_CONFIG, else the default."""
    return load_environments(path=path or None, select="")


def pick(configs: list[PipelineConfig], name: str | None) -> PipelineConfig:
    if name is None:
        if len(configs) > 1:
            print(f"[local] {len(configs)} environments configured; using {configs[0].environment!r} "
                  f"(choose with --environment: {', '.join(c.environment for c in configs)})", file=sys.stderr)
        return configs[0]
    for config in configs:
        if config.environment == name:
            return config
    raise ConfigError(f"--environment: no environment named {name!r} (configured: {', '.join(c.environment for c in configs)})")


def _number(kind: type, low: float, high: float = math.inf, *, above_low: bool = False):
    """An argparse type: a finite int/float within [low, high] (or (low, high] with above_low)."""
    rule = (f"above {low:g}" if above_low else f"at least {low:g}") if high == math.inf else f"from {low:g} to {high:g}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number {rule}")
        if value < low or value > high or (above_low and value == low):
            raise argparse.ArgumentTypeError(f"{text!r}: must be {rule}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


_COUNT, _SOME = _number(int, 1), _number(int, 0)
_SHARE, _SECONDS, _POSITIVE_SECONDS = _number(float, 0, 1), _number(float, 0), _number(float, 0, above_low=True)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line naming the argument, exit 2 (not argparse's usage block)
        self.exit(EXIT_USAGE, f"error: {message} (see --help)\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = _Parser(
        prog="python -m local_pipeline",
        description=__doc__.splitlines()[0],
        epilog=__doc__[__doc__.index("exit status:"):],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--items", type=_COUNT, default=100, help="items to insert (default 100)")
    p.add_argument("--poison", type=_SOME, default=0, help="items whose changes the business logic rejects (default 0)")
    p.add_argument("--duplicates", type=_SHARE, nargs="?", const=0.2, default=0.0, metavar="SHARE",
                   help="redeliver a share of processed messages once (default share when given: 0.2)")
    p.add_argument("--modify-share", type=_SHARE, default=0.3, help="share of items modified after insert (0.3)")
    p.add_argument("--remove-share", type=_SHARE, default=0.1, help="share of items removed at the end (0.1)")
    p.add_argument("--seed", type=int, default=7, help="workload seed (which items are poison/modified/removed)")
    p.add_argument("--outage", type=_SECONDS, default=0.0, metavar="SECONDS",
                   help="simulate a consumer outage: business logic fails for this long after its first call")
    p.add_argument("--flaky", type=_SHARE, default=0.0, metavar="SHARE",
                   help="a share of changes fail their first attempt at each subscriber, as transient errors do "
                        "(redelivered after the visibility timeout; default 0)")
    p.add_argument("--config", metavar="FILE", help="configuration file (default: $PIPELINE_CONFIG, else the original design)")
    p.add_argument("--environment", metavar="NAME", help="environment to run when the file has several")
    p.add_argument("--no-fast", dest="fast", action="store_false",
                   help="use the configured visibility timeouts, function deadlines and Lambda-like back-off (slow)")
    p.add_argument("--visibility-timeout", type=_SOME, metavar="SECONDS", help="override every queue's visibility timeout")
    p.add_argument("--pollers", type=_COUNT, default=1, help="concurrent pollers per queue (default 1)")
    p.add_argument("--timeout", type=_POSITIVE_SECONDS, default=120.0, help="give up after this many seconds (default 120)")
    p.add_argument("--log-file", default=str(DEFAULT_LOG), help=f"handlers' logs (default {DEFAULT_LOG}; '-' = stderr)")
    p.add_argument("--json", action="store_true", help="also print the summary as one JSON object on the last line")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p.parse_args(argv)


def table(summary: dict) -> str:
    rows = [
        ("written (changes)", summary["written"]),
        *([("filtered out (stream.event_names)", summary["filtered_out"])] if summary.get("filtered_out") else []),
        ("published", summary["published"]),
        ("delivered", summary["delivered"]),
        ("processed", summary["processed"]),
        ("processed exactly once", summary["processed_once"]),
        ("processed more than once", summary["processed_more_than_once"]),
        ("dead-lettered", summary["dead_lettered"]),
        ("  poison (fail every time)", summary["dead_lettered_poison"]),
        ("  outage casualties (healthy)", summary["outage_casualties"]),
        ("    of which stream on-failure", summary["stream_failures"]),
        ("delivery failed (SNS to a queue)", summary.get("delivery_failed", 0)),
        ("  in a delivery DLQ", summary.get("dead_lettered_delivery", 0)),
        ("lost", summary["lost"]),
        ("processed out of order (per item)", summary["out_of_order"]),
        ("duplicates injected", summary["duplicates_injected"]),
        ("duplicates suppressed", summary["duplicates_suppressed"]),
        ("throughput (changes/s)", summary["throughput_per_s"]),
        ("latency p50 (ms)", summary["p50_ms"]),
        ("latency p99 (ms)", summary["p99_ms"]),
        ("elapsed (s)", summary["elapsed_s"]),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  -----"]
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    if len(summary["subscribers"]) > 1:
        for name, sub in summary["subscribers"].items():
            lines.append(f"[{name}] expected {sub['expected']} processed {sub['processed']} "
                         f"dead-lettered {sub['dead_lettered']} (poison {sub['dead_lettered_poison']}, "
                         f"outage {sub['dead_lettered_outage']}) delivery failed {sub.get('delivery_failed', 0)} "
                         f"(in the delivery DLQ {sub.get('dead_lettered_delivery', 0)}) lost {sub['lost']} "
                         f"out of order {sub['out_of_order']}")
    if summary["lost_examples"]:
        lines.append("lost (first 10): " + ", ".join(summary["lost_examples"]))
    if summary.get("out_of_order_examples"):
        lines.append("out of order (first 10): " + ", ".join(summary["out_of_order_examples"]))
    return "\n".join(lines)


def _terminate(signum, frame):  # SIGTERM behaves like Ctrl-C: clean shutdown
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = pick(load_configs(args.config), args.environment)
        workload = Workload(items=args.items, poison=args.poison, modify_share=args.modify_share,
                            remove_share=args.remove_share, seed=args.seed)
    except ConfigError as error:  # one line per problem, as main.py prints them
        print("\n".join(f"error: {line}" for line in error.lines()), file=sys.stderr)
        return EXIT_USAGE
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.log_file == "-":
        log, close_log = sys.stderr, False
    else:
        log = open_output_file(args.log_file, "--log-file")
        if isinstance(log, Problem):
            print(f"error: {log}", file=sys.stderr)
            return EXIT_USAGE
        close_log = True
    options = Options(
        workload=workload,
        duplicates=args.duplicates,
        timing=Timing(fast=args.fast, visibility_override_s=args.visibility_timeout),
        timeout_s=args.timeout,
        pollers_per_queue=args.pollers,
        outage_s=args.outage,
        flaky=args.flaky,
        progress=None if args.quiet else sys.stderr,
        function_log=log,
    )
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        result = LocalPipeline(config, options).run()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
        if close_log:
            log.close()
    for error in result.errors:
        print(f"[local] error: {error}", file=sys.stderr)
    if not result.summary:
        return EXIT_FAILED
    if close_log:
        print(f"[local] handler logs: {args.log_file}", file=sys.stderr)
    print(table(result.summary))
    if args.json:
        print(json.dumps(result.summary, sort_keys=True, default=str))
    status = exit_status(result)
    if status == EXIT_DELIVERY_FAILED:
        where = ", ".join(f"{name} {sub['delivery_failed']}" for name, sub in result.summary["subscribers"].items()
                          if sub.get("delivery_failed"))
        print(f"[local] {result.delivery_failed} SNS delivery failure(s) to a subscriber queue ({where}): the "
              "messages go to its delivery DLQ; fix the cause and redrive it (docs/operations.md): exit status 4",
              file=sys.stderr)
    if status == EXIT_CASUALTIES:
        print(f"[local] {result.casualties} healthy change(s) dead-lettered by the outage: exit status 3", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
