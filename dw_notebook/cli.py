"""The ``dw-notebook`` command (also ``python -m dw_notebook``): demo, serve, jobs."""

from __future__ import annotations

import argparse
import sys


def _demo(args: argparse.Namespace) -> int:
    import pandas as pd

    from .datasets import sample_reviews
    from .job.submit import submit
    from .local import SIMULATED_NOTE, local

    if args.local:
        local(rate=args.rate)
    df = sample_reviews(args.rows, seed=args.seed)
    job = submit(
        df,
        "Sentiment of this review of a {product}, one word: {review}",
        model=args.model,
        name=f"demo-{args.rows}",
        force=True,
    )
    if job.connection.simulated:
        print(SIMULATED_NOTE, file=sys.stderr)
    batch_ids = job.wait_submitted().batch_ids  # the upload runs behind the call: ids come after
    batches = "batch" if len(batch_ids) == 1 else f"{len(batch_ids)} batches"
    print(f"Submitted {args.rows} rows as {batches} {', '.join(batch_ids)}", file=sys.stderr)
    out = job.join()
    with pd.option_context("display.width", 120, "display.max_colwidth", 50):
        print(out[["review", "content", "status", "prompt_tokens"]].head(args.show).to_string())
    print()
    print(_tally(out).to_string(index=False))
    return 0


def _tally(out):  # type: ignore[no-untyped-def]
    """Rows per status and answer, with shares: the demo's closing table."""
    import pandas as pd

    counts = out.groupby(["status", "content"], observed=True, dropna=False).size()
    table = counts.rename("rows").reset_index().sort_values("rows", ascending=False)
    table["share"] = (table["rows"] / len(out)).map("{:.0%}".format)
    table["content"] = table["content"].fillna("")
    return pd.DataFrame(table).reset_index(drop=True)


def _jobs(args: argparse.Namespace) -> int:
    from .job.submit import list_jobs

    frame = list_jobs(server=not args.local_only)
    print(frame.to_string() if not frame.empty else "no jobs")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .server.cli import run_serve

    return run_serve(args)


DESCRIPTION = """\
Batch LLM inference over pandas DataFrames (Doubleword or any OpenAI-compatible Batch API).
Without DOUBLEWORD_API_KEY everything runs against an embedded local server whose answers are
simulated; with it, against https://api.doubleword.ai/v1."""

EPILOG = """\
examples:
  dw-notebook demo                          label 300 sample reviews end to end, offline
  dw-notebook serve --port 8765             a local Batch API for any OpenAI-compatible client
  dw-notebook jobs                          jobs of this machine and the service

In Python: import dw_notebook as dw; job = dw.submit(df, "Label: {text}", model=...)"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dw-notebook",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="label sample reviews end to end, printing text progress",
        description="Label sample reviews end to end with text progress, then print the "
        "joined table and a tally of the answers.",
    )
    demo.add_argument("--rows", type=int, default=300, help="sample reviews to label (300)")
    demo.add_argument("--model", default="mock", help="model name (mock: the local simulator)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the sample reviews (0)")
    demo.add_argument(
        "--rate", type=float, default=100.0, help="local server requests per second (100)"
    )
    demo.add_argument("--show", type=int, default=10, help="rows of the joined table to print")
    demo.add_argument(
        "--local",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="start the embedded server first (ignored when a key is set)",
    )
    demo.set_defaults(run=_demo)

    from .server.cli import DESCRIPTION as SERVE_DESCRIPTION
    from .server.cli import add_serve_arguments

    serve = sub.add_parser(
        "serve",
        help="run the local Batch API server in the foreground",
        description=SERVE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_serve_arguments(serve)
    serve.set_defaults(run=_serve)

    listing = sub.add_parser("jobs", help="list jobs of the local registry and the service")
    listing.add_argument(
        "--local-only", action="store_true", help="only this machine's registry; ask no service"
    )
    listing.set_defaults(run=_jobs)

    args = parser.parse_args(argv)
    return args.run(args)
