"""`therapeutic-moe serve MODEL_DIR`: the HTTP API and web chat page."""

from __future__ import annotations

import ipaddress
import sys

from therapeutic_moe.errors import UserError
from therapeutic_moe.serving.settings import API_KEY_ENV, ServeSettings

DEFAULTS = ServeSettings()


def register(subparsers) -> None:
    from therapeutic_moe.inference.cli import add_generation_args

    parser = subparsers.add_parser(
        "serve", help="serve a trained model over HTTP (OpenAI-compatible API + web chat page)",
        description="Serve a trained model: POST /v1/chat/completions (OpenAI-compatible, with SSE streaming "
                    "and a per-token 'routing' extension), GET /v1/models, /health, /metrics (Prometheus) and "
                    "a web chat page at /. Binds 127.0.0.1 unless --host says otherwise.",
    )
    add_generation_args(parser)
    parser.add_argument("--host", default=DEFAULTS.host, help="address to bind (default %(default)s: this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULTS.port, help="TCP port (default %(default)s)")
    parser.add_argument("--api-key", default=None, metavar="KEY",
                        help=f"require 'Authorization: Bearer KEY' on every route but /health (default: ${API_KEY_ENV} "
                             "if set, else no key). The web page asks for it via the browser's login prompt "
                             "(any user name, the key as password)")
    parser.add_argument("--max-request-bytes", type=int, default=DEFAULTS.max_request_bytes, metavar="N",
                        help="largest request body; larger gets 413 (default %(default)s)")
    parser.add_argument("--max-new-tokens-limit", type=int, default=DEFAULTS.max_new_tokens_limit, metavar="N",
                        help="largest max_tokens a request may ask for; more gets 422 (default %(default)s)")
    parser.add_argument("--default-max-new-tokens", type=int, default=None, metavar="N",
                        help="max_tokens when a request gives none (default: 256, or the limit if lower)")
    parser.add_argument("--max-concurrent", type=int, default=DEFAULTS.max_concurrent, metavar="N",
                        help="replies generated at the same time (default %(default)s)")
    parser.add_argument("--max-queue", type=int, default=DEFAULTS.max_queue, metavar="N",
                        help="requests that may wait for a slot; more get 429 (default %(default)s)")
    parser.add_argument("--queue-timeout", type=float, default=DEFAULTS.queue_timeout_s, metavar="SECONDS",
                        help="longest wait for a slot before 503 (default %(default)s)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                        help="uvicorn log level (default %(default)s)")
    parser.set_defaults(func=run_serve)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_serve(args) -> int:
    import uvicorn

    from therapeutic_moe.inference.cli import load_assistant
    from therapeutic_moe.serving.app import create_app

    # `--api-key ""` (e.g. --api-key "$KEY" with KEY unset) must be refused, never read as "no key":
    # falling back on `or` would silently serve without authentication.
    if args.api_key is not None and not args.api_key.strip():
        raise UserError(f"--api-key is empty (an unset variable?); give the key, or leave out --api-key "
                        f"(and ${API_KEY_ENV}) to serve without authentication")
    api_key = args.api_key if args.api_key is not None else ServeSettings.api_key_from_env()
    settings = ServeSettings(
        host=args.host, port=args.port, api_key=api_key,
        max_request_bytes=args.max_request_bytes, max_new_tokens_limit=args.max_new_tokens_limit,
        default_max_new_tokens=args.default_max_new_tokens,
        max_concurrent=args.max_concurrent, max_queue=args.max_queue, queue_timeout_s=args.queue_timeout)
    if not _is_loopback(settings.host) and settings.api_key is None:
        print(f"warning: binding {settings.host} without an API key: anyone who can reach this port can use the "
              f"model. Set --api-key or ${API_KEY_ENV}.", file=sys.stderr)
    assistant = load_assistant(args)
    app = create_app(assistant, settings)
    auth = "API key required" if settings.api_key else "no API key"
    print(f"serving {assistant.name} on http://{settings.host}:{settings.port} ({auth}); web chat at /, "
          f"experts: {', '.join(assistant.domains) or 'none'}", file=sys.stderr, flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level)
    return 0
