"""The playground's web server: Starlette routes, the WebSocket protocol and ``main``.

Pages:
    GET  /                          the single-page app (static/index.html)
    GET  /static/...                its CSS and JavaScript, only from the package's static folder
    WS   /ws?<settings>             one session per connection (see below)
HTTP API (JSON; errors are ``{"error": {"field", "message"}}``):
    GET    /api/schema              allowed values of every setting
    GET    /api/state?<settings>    validate a URL query (422 with the problems)
    GET    /api/datasets            preview points of each data set
    POST   /api/sessions            a new session from a JSON object of settings
    GET    /api/sessions/{id}       its settings, epoch and losses
    PATCH  /api/sessions/{id}       change settings
    POST   /api/sessions/{id}/step?epochs=N   train N (1-10) epochs within the step budget
    POST   /api/sessions/{id}/csv   upload labelled points (text/csv body, size-limited)
    GET    /api/sessions/{id}/export/playground.safetensors | playground_predict.py
    DELETE /api/sessions/{id}

WebSocket messages from the page: ``{"type": "set", "state": {...}}``, ``play``,
``pause``, ``step``, ``reset``, ``regenerate``, ``setWeight`` (layer, node,
source, value), ``setBias`` (layer, node, value), ``focus`` (node: [layer,
index] or null). From the server: ``hello``, ``state``, ``data``, ``network``,
``update`` (about 10 per second while training) and ``error`` (``fatal`` when
the session ends).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

try:
    import anyio
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.types import ASGIApp, Receive, Scope, Send
    from starlette.websockets import WebSocket, WebSocketDisconnect
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("the playground needs starlette and uvicorn: pip install starlette uvicorn") from error

from .data import MAX_CSV_BYTES, CsvError, dataset_previews, parse_csv
from .export import SAFETENSORS_NAME, SCRIPT_NAME, export_safetensors, export_script
from .session import Session, SessionLimitError, SessionManager
from .state import DEFAULTS, StateError, apply_changes, parse_query, state_schema

__all__ = ["app", "create_app", "main", "STATIC_DIR"]

LOG = logging.getLogger("deepgrad.playground")

STATIC_DIR = Path(__file__).resolve().parent / "static"
TICK_SECONDS = 0.1           # one update message per tick while training
MAX_MESSAGE_CHARS = 65536    # a WebSocket message from the page
MAX_JSON_BYTES = 65536       # an HTTP JSON body
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                                 b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"field": field, "message": message}}, status_code=status)


def _same_origin(headers: Any) -> bool:
    """No Origin header (not a browser), or one naming this server's host: refuses other sites."""
    origin = headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()


class SecurityMiddleware:
    """Adds the security headers; refuses cross-site writes and WebSocket connections."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        unsafe = scope["type"] == "websocket" or scope.get("method") not in ("GET", "HEAD", "OPTIONS")
        if unsafe and not _same_origin(headers):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "cross-origin connection refused"})
            else:
                await _error(403, "cross-origin request refused")(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- HTTP handlers -----------------------------------------------------------------
def _manager(request: Request | WebSocket) -> SessionManager:
    return request.app.state.manager


def _session(request: Request) -> Session | JSONResponse:
    sid = request.path_params["sid"]
    session = _manager(request).get(sid)
    if session is None:
        return _error(404, "no such session: it was closed or dropped after being idle; reload the page")
    session.touch()
    return session


async def _json_body(request: Request) -> Any:
    body = await _read_limited(request, MAX_JSON_BYTES)
    if body is None:
        raise StateError(None, f"the request body is larger than {MAX_JSON_BYTES} bytes")
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:
        raise StateError(None, f"the request body is not valid JSON: {error}") from None


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is (or claims to be) larger than ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def index(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


async def schema(request: Request) -> Response:
    return JSONResponse(state_schema())


async def datasets(request: Request) -> Response:
    if not hasattr(request.app.state, "previews"):
        request.app.state.previews = dataset_previews()
    return JSONResponse(request.app.state.previews)


async def check_state(request: Request) -> Response:
    state, errors = parse_query(request.url.query)
    return JSONResponse({"state": state.to_json(), "query": state.to_query(),
                         "errors": [e.to_json() for e in errors]}, status_code=422 if errors else 200)


async def create_session(request: Request) -> Response:
    try:
        state = apply_changes(DEFAULTS, await _json_body(request))
        if state.active_dataset == "csv":
            raise StateError("dataset", "a new session has no CSV yet: create it, then upload one")
        session = _manager(request).create(state)
    except StateError as error:
        return JSONResponse({"error": error.to_json()}, status_code=422)
    except SessionLimitError as error:
        return _error(503, str(error))
    return JSONResponse(session.status(), status_code=201)


async def session_api(request: Request) -> Response:
    session = _session(request)
    if isinstance(session, JSONResponse):
        return session
    if request.method == "DELETE":
        _manager(request).drop(session.id, "the session was deleted")
        return JSONResponse({"deleted": session.id})
    if request.method == "PATCH":
        try:
            changes = await _json_body(request)
            async with session.lock:
                session.apply(changes)
        except StateError as error:
            return JSONResponse({"error": error.to_json()}, status_code=422)
        session.wake.set()
    async with session.lock:
        return JSONResponse(await anyio.to_thread.run_sync(session.status))


async def step_session(request: Request) -> Response:
    session = _session(request)
    if isinstance(session, JSONResponse):
        return session
    text = request.query_params.get("epochs", "1")
    if not text.isdigit() or not 1 <= int(text) <= 10:
        return _error(422, f"epochs must be a whole number from 1 to 10; got {text!r}", "epochs")
    for _ in range(int(text)):
        async with session.lock:
            session.request_step()
        while True:  # the steps go through the session's budget like the page's
            async with session.lock:
                if not session.wants_training() or session.closed:
                    break
                steps = session.budget.available()
                if steps:
                    session.budget.spend(await anyio.to_thread.run_sync(session.train, steps))
                wait = session.budget.wait_time()
            await anyio.sleep(min(wait, 0.2))
    async with session.lock:
        return JSONResponse(await anyio.to_thread.run_sync(session.status))


async def upload_csv(request: Request) -> Response:
    session = _session(request)
    if isinstance(session, JSONResponse):
        return session
    limit = request.app.state.max_csv_bytes
    body = await _read_limited(request, limit)
    if body is None:
        return _error(413, f"the CSV is larger than {limit} bytes, the upload limit", "csv")
    try:
        csv = await anyio.to_thread.run_sync(lambda: parse_csv(body, max_bytes=limit))
    except CsvError as error:
        return _error(422, f"CSV refused: {error}", "csv")
    async with session.lock:
        session.load_csv(csv)
        session.wake.set()
        return JSONResponse({"rows": len(csv.points), "kind": csv.kind, "state": session.state.to_json(),
                             "query": session.state.to_query()})


async def export_file(request: Request) -> Response:
    session = _session(request)
    if isinstance(session, JSONResponse):
        return session
    name = request.path_params["name"]
    async with session.lock:
        if name == SCRIPT_NAME:
            text = export_script(session.state, session.net.spec)
            return PlainTextResponse(text, media_type="text/x-python", headers={
                "content-disposition": f'attachment; filename="{SCRIPT_NAME}"'})
        if name == SAFETENSORS_NAME:
            try:
                data = await anyio.to_thread.run_sync(export_safetensors, session.net)
            except ImportError as error:
                return _error(501, str(error))
            return Response(data, media_type="application/octet-stream", headers={
                "content-disposition": f'attachment; filename="{SAFETENSORS_NAME}"'})
    return _error(404, f"no export named {name!r}; use {SAFETENSORS_NAME} or {SCRIPT_NAME}")


# --- WebSocket ------------------------------------------------------------------------
async def _handle(session: Session, message: Any) -> None:
    """Apply one message from the page (under the session lock); problems go to session.errors."""
    try:
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise StateError(None, "a message must be a JSON object with a \"type\"")
        kind = message["type"]
        if kind == "set":
            session.apply(message.get("state"))
        elif kind == "play":
            session.playing, session.step_target = True, None
            session.pending.add("state")
        elif kind == "pause":
            session.playing = False
            session.pending.add("state")
        elif kind == "step":
            session.request_step()
        elif kind == "reset":
            session.reset()
        elif kind == "regenerate":
            session.regenerate()
        elif kind == "setWeight":
            session.set_param("weight", message.get("layer"), message.get("node"), message.get("source"),
                              message.get("value"))
        elif kind == "setBias":
            session.set_param("bias", message.get("layer"), message.get("node"), None, message.get("value"))
        elif kind == "focus":
            session.set_focus(message.get("node"))
        else:
            raise StateError(None, f"unknown message type {kind[:40]!r}")
    except StateError as error:
        session.errors.append(error.to_json())
        session.pending.add("state")  # the page puts its controls back


def _disconnected(error: BaseException) -> bool:
    """Whether an error (or every error in a group) only says the page went away."""
    if isinstance(error, BaseExceptionGroup):
        return all(_disconnected(e) for e in error.exceptions)
    name = type(error).__name__
    return isinstance(error, (OSError, WebSocketDisconnect)) or "ConnectionClosed" in name or "Disconnect" in name


async def websocket_endpoint(websocket: WebSocket) -> None:
    manager = _manager(websocket)
    await websocket.accept()
    state, problems = parse_query(websocket.url.query)
    if state.active_dataset == "csv":
        problems.append(StateError("dataset", "dataset=csv needs a CSV uploaded in the page; "
                                              "showing the default data set instead"))
        state = replace(state, dataset=DEFAULTS.dataset, regDataset=DEFAULTS.regDataset)
    try:
        session = manager.create(state)
    except SessionLimitError as error:
        await websocket.send_json({"type": "error", "field": None, "message": str(error), "fatal": True})
        await websocket.close(code=1013)
        return
    session.sockets += 1
    await websocket.send_json({"type": "hello", "session": session.id, "schema": state_schema(),
                               "limits": {"csvBytes": websocket.app.state.max_csv_bytes,
                                          "stepsPerSecond": manager.steps_per_second,
                                          "idleTimeout": manager.idle_timeout}})
    for problem in problems:
        session.errors.append(problem.to_json())

    async def reader(scope: anyio.CancelScope) -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                scope.cancel()
                return
            text = message.get("text")
            session.touch()
            async with session.lock:
                if text is None or len(text) > MAX_MESSAGE_CHARS:
                    session.errors.append({"field": None, "message": "messages must be JSON text of at most "
                                                                     f"{MAX_MESSAGE_CHARS} characters"})
                else:
                    try:
                        payload = json.loads(text)
                    except (ValueError, RecursionError):
                        session.errors.append({"field": None, "message": "a message was not valid JSON"})
                    else:
                        await _handle(session, payload)
            session.wake.set()

    async def ticker(scope: anyio.CancelScope) -> None:
        while True:
            start = anyio.current_time()
            session.wake.clear()  # a message arriving from here on wakes the next wait at once
            manager.reap()
            if session.closed:
                await websocket.send_json({"type": "error", "field": None, "message": session.closed,
                                           "fatal": True})
                await websocket.close(code=1000)
                scope.cancel()
                return
            async with session.lock:
                if session.wants_training():
                    steps = session.budget.available()
                    if steps:
                        session.budget.spend(await anyio.to_thread.run_sync(session.train, steps))
                messages = await anyio.to_thread.run_sync(session.outgoing) \
                    if session.pending or session.errors else []
            for message in messages:
                await websocket.send_text(json.dumps(message, separators=(",", ":")))
            if session.wants_training():
                await anyio.sleep(max(0.005, TICK_SECONDS - (anyio.current_time() - start)))
            else:
                with anyio.move_on_after(1.0):
                    await session.wake.wait()

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(reader, group.cancel_scope)
            group.start_soon(ticker, group.cancel_scope)
    except Exception as error:  # noqa: BLE001 - a failure ends this session, never the server
        if not _disconnected(error):
            LOG.exception("playground session %s failed", session.id)
            try:
                with anyio.move_on_after(1.0):
                    await websocket.send_json({"type": "error", "field": None, "fatal": True, "message":
                                               f"the session stopped on an internal error ({error!r}); "
                                               "reload the page to start again"})
                    await websocket.close(code=1011)
            except Exception:  # noqa: BLE001 - the page is gone as well
                pass
    finally:
        session.sockets -= 1
        if session.sockets <= 0:
            manager.drop(session.id, "the page was closed")


# --- the app --------------------------------------------------------------------------
def create_app(max_sessions: int = 16, idle_timeout: float = 1800.0, steps_per_second: float = 1000.0,
               max_csv_bytes: int = MAX_CSV_BYTES, allowed_hosts: list[str] | None = None,
               clock: Any = None) -> Starlette:
    """A playground app with its own sessions and limits.

    Args:
        max_sessions: sessions (tabs) open at once; more are refused with a message.
        idle_timeout: seconds without a message from the page before a session is dropped.
        steps_per_second: each session's training budget, in mini-batch steps per second.
        max_csv_bytes: the largest CSV upload accepted.
        allowed_hosts: accepted ``Host`` headers (guards against DNS rebinding); None accepts any.
        clock: the time source for idle timeouts and budgets (tests pass a fake one).
    """
    kwargs = {} if clock is None else {"clock": clock}
    routes = [
        Route("/", index),
        Route("/api/schema", schema),
        Route("/api/state", check_state),
        Route("/api/datasets", datasets),
        Route("/api/sessions", create_session, methods=["POST"]),
        Route("/api/sessions/{sid}", session_api, methods=["GET", "PATCH", "DELETE"]),
        Route("/api/sessions/{sid}/step", step_session, methods=["POST"]),
        Route("/api/sessions/{sid}/csv", upload_csv, methods=["POST"]),
        Route("/api/sessions/{sid}/export/{name}", export_file),
        WebSocketRoute("/ws", websocket_endpoint),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    middleware = [Middleware(SecurityMiddleware)]
    if allowed_hosts is not None:
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))
    application = Starlette(routes=routes, middleware=middleware)
    application.state.manager = SessionManager(max_sessions, idle_timeout, steps_per_second, **kwargs)
    application.state.max_csv_bytes = max_csv_bytes
    return application


app = create_app()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def main(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False) -> int:
    """Serve the playground at ``http://host:port/`` until interrupted (Ctrl+C); returns 0.

    ``port=0`` picks a free port; ``open_browser`` opens the page once the server is up.
    Binds the loopback address unless told otherwise; on a loopback address only
    ``Host: 127.0.0.1`` / ``localhost`` requests are answered.
    """
    import uvicorn

    try:  # tiny matrices: BLAS threads only contend with the sessions' own work
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    loopback = _is_loopback(host)
    if port == 0:  # pick a free port now, so the address printed (and opened) is the real one
        import socket

        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host.strip("[]"), 0))
            port = probe.getsockname()[1]
    application = create_app(allowed_hosts=LOOPBACK_NAMES if loopback else None)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    if not loopback:
        print(f"warning: serving on {host}: anyone who can reach this machine can use the playground",
              file=sys.stderr)
    config = uvicorn.Config(application, host=host, port=port, log_level="warning", ws="auto")
    server = uvicorn.Server(config)
    if open_browser:
        import threading
        import webbrowser

        def open_when_ready() -> None:
            for _ in range(100):
                if server.started:
                    webbrowser.open(url)
                    return
                threading.Event().wait(0.1)
        threading.Thread(target=open_when_ready, daemon=True).start()
    print(f"deepgrad playground on {url}  (Ctrl+C to stop)", flush=True)
    server.run()
    return 0
