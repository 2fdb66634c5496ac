"""`vetbot console serve`: the staff console's web server."""
from __future__ import annotations

import argparse


def register(groups: argparse._SubParsersAction) -> None:
    console = groups.add_parser("console", help="接线员控制台").add_subparsers(dest="command", required=True)
    serve = console.add_parser("serve", help="启动控制台网页服务")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, help="默认 $CONSOLE_PORT 或 8080")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from console.app import create_app
    from vetbot.settings import settings

    uvicorn.run(create_app(), host=args.host, port=args.port or settings().console_port, log_level="info")
    return 0
