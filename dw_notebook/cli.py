"""``dw-notebook`` / ``python -m dw_notebook``: demo, serve, jobs."""

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
    print(f"Submitted {args.rows} rows as {', '.join(job.batch_ids)}", file=sys.stderr)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dw-notebook", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="label sample reviews end to end, printing text progress")
    demo.add_argument("--rows", type=int, default=300)
    demo.add_argument("--model", default="mock")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--rate", type=float, default=100.0, help="local server requests/second")
    demo.add_argument("--show", type=int, default=10, help="rows of the joined table to print")
    demo.add_argument(
        "--local",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="start the embedded server first (ignored when a key is set)",
    )
    demo.set_defaults(run=_demo)

    serve = sub.add_parser("serve", help="run the local Batch API server in the foreground")
    from .server.cli import add_serve_arguments

    add_serve_arguments(serve)
    serve.set_defaults(run=_serve)

    listing = sub.add_parser("jobs", help="list jobs of the local registry and the service")
    listing.add_argument("--local-only", action="store_true")
    listing.set_defaults(run=_jobs)

    args = parser.parse_args(argv)
    return args.run(args)
