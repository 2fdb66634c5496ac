"""`vetbot console serve`: the staff console's web server."""
from __future__ import annotations

import argparse


def register(groups: argparse._SubParsersAction) -> None:
    console = groups.add_parser("console", help="接线员控制台").add_subparsers(dest="command", required=True)
    serve = console.add_parser("serve", help="启动控制台网页服务")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, help="默认 $CONSOLE_PORT 或 8080")
    serve.set_defaults(handler=_serve)


def log_config() -> dict:
    """Uvicorn's own logging, with phones and ID numbers masked in every line: a search for a
    veteran's phone (GET /api/conversations?q=…) would otherwise be in the access log in clear."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": "vetbot.redaction.RedactingFilter"},
                         "redact_url": {"()": "vetbot.redaction.RedactingUrlFilter"}}
    for name, handler in config["handlers"].items():
        handler["filters"] = ["redact_url" if name == "access" else "redact"]
    return config


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from console.app import create_app
    from vetbot.redaction import install_log_redaction
    from vetbot.settings import settings

    install_log_redaction()  # the console's own loggers (they go to the root logger)
    uvicorn.run(create_app(), host=args.host, port=args.port or settings().console_port, log_level="info",
                log_config=log_config())
    return 0
