"""``dw-notebook serve``: run the local Batch API server in the foreground."""

from __future__ import annotations

import argparse
import signal
import threading

from dw_notebook.server.faults import KINDS
from dw_notebook.server.runner import AUTO
from dw_notebook.server.server import start_server


def _rate(text: str) -> float | str | None:
    if text.lower() in ("none", "unlimited", "0"):
        return None
    if text.lower() == AUTO:
        return AUTO
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("rate must be positive (or 'auto' or 'none')")
    return value


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``30m``, ``12h`` or ``7d``."""
    unit = _UNITS.get(text[-1:].lower())
    try:
        value = float(text[:-1] if unit else text) * (unit or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; use seconds or a number with s, m, h or d (e.g. 7d)"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError("a retention cannot be negative")
    return value


def _option(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError("backend options look like KEY=VALUE")
    value: object = raw
    for cast in (int, float):
        try:
            value = cast(raw)
            break
        except ValueError:
            continue
    return key, value


def _fault(text: str) -> dict:
    """``KIND[:KEY=VALUE,...]``, e.g. ``read_outage:seconds=30`` or
    ``rate_limit:seconds=60,retry_after=60,path=/v1/batches``."""
    kind, _, rest = text.partition(":")
    if kind not in KINDS:
        raise argparse.ArgumentTypeError(f"unknown fault {kind!r}; choose from {KINDS}")
    spec: dict = {"kind": kind}
    for item in filter(None, rest.split(",")):
        key, value = _option(item)
        spec[key] = {"true": True, "false": False}.get(str(value).lower(), value)
    return spec


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to ``parser``."""
    parser.add_argument("--dialect", choices=["doubleword", "openai"], default="doubleword")
    parser.add_argument("--backend", choices=["mock", "echo", "forward"], default="mock")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--token", default=None, help="API token (default: a random one)")
    parser.add_argument(
        "--data-dir", default=None, help="keep state and files here (default: a temporary dir)"
    )
    parser.add_argument(
        "--rate",
        type=_rate,
        default=AUTO,
        help="requests per second, 'none' for unlimited, or 'auto' (the default: 50, faster "
        "for large jobs so any job ends in about a minute)",
    )
    parser.add_argument(
        "--retention",
        type=duration,
        default=None,
        help="delete finished batches and their files after this long, e.g. 7d or 12h "
        "(default: keep everything)",
    )
    parser.add_argument("--shuffle", action="store_true", help="shuffle output line order")
    parser.add_argument(
        "--upstream", default=None, help="forward backend: OpenAI-compatible base URL ending in /v1"
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="KIND[:KEY=VALUE,...]",
        help="start with a fault rule, e.g. read_outage:seconds=30, "
        "rate_limit:seconds=60,retry_after=60, payment_required:count=1, "
        "late_completion:requests=3,delay=5 (more through /admin/faults)",
    )
    parser.add_argument(
        "--backend-option",
        type=_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backend option, e.g. latency=0.5 or failure_rate=0.1",
    )


def run_serve(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Start the server, print its base URL and token, and serve until Ctrl-C (or ``stop``)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        # before anything is printed: whoever reads our output may send SIGTERM at once
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    options = dict(args.backend_option)
    if args.upstream:
        options["url"] = args.upstream
    srv = start_server(
        dialect=args.dialect,
        backend=args.backend,
        host=args.host,
        port=args.port,
        token=args.token,
        data_dir=args.data_dir,
        rate=args.rate,
        retention=args.retention,
        shuffle=args.shuffle,
        backend_options=options,
    )
    try:
        for spec in args.fault:
            spec = dict(spec)
            srv.faults.inject(spec.pop("kind"), **spec)
        print(f"dw-notebook local Batch API ({srv.dialect} dialect, {args.backend} backend)")
        if args.backend != "forward":
            print("Answers are simulated, not from a model.")
        print(f"base URL: {srv.base_url}")
        print(f"token:    {srv.token}")
        print(f"admin:    {srv.admin_token}")
        print("Press Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run as ``python -m dw_notebook.server.cli``."""
    parser = argparse.ArgumentParser(prog="dw-notebook serve", description=__doc__)
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
