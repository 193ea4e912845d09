"""The bare baseline for `bench/run.py`: a FastAPI endpoint that only verifies the signature and XADDs the
raw body, on the same uvicorn settings as the product (service.app.uvicorn_config). Never served by the
product; it tells what acknowledging a webhook costs on this machine with nothing of ours in the way.

    python bench/baseline_app.py --port 8100 --redis-url unix:///path/redis.sock --app-secret SECRET
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import redis.asyncio
import uvicorn
from fastapi import FastAPI, Request, Response

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service.app import uvicorn_config  # noqa: E402
from service.settings import load_settings  # noqa: E402
from webhooks.signature import verify_signature  # noqa: E402

STREAM = "{bench}:baseline"


def create_app(redis_url: str, app_secret: str) -> FastAPI:
    client = redis.asyncio.Redis.from_url(redis_url)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/webhooks/meta")
    async def receive(request: Request) -> Response:
        body = await request.body()
        if not verify_signature(body, request.headers.get("x-hub-signature-256"), app_secret):
            return Response(status_code=403)
        await client.xadd(STREAM, {"body": body})
        return Response(content=b'{"result":"ok"}', media_type="application/json")

    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--app-secret", required=True)
    args = parser.parse_args()
    app = create_app(args.redis_url, args.app_secret)
    uvicorn.Server(uvicorn_config(app, load_settings(), host="127.0.0.1", port=args.port)).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
