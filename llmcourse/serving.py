"""A local OpenAI-compatible server for the course's models, and a client that never needs one.

    with local_server("course-gpt") as (client, model):        # no key, no network ("course-chat": the chat model)
        print(chat(client, model, [{"role": "user", "content": "What colour is a carrot?"}]))

    with connect() as (client, model):   # the real API when OPENAI_API_KEY is set (.env), else local_server()
        ...

The server (FastAPI + uvicorn, ``python -m llmcourse.serving --model course-gpt --port 8000``)
implements ``POST /v1/chat/completions`` with the OpenAI API's sampling controls, decoded by
:mod:`llmcourse.decoding`: ``temperature`` (0 = greedy), ``top_p``, ``max_tokens``, ``stop`` (not
included in the text, as OpenAI does), ``n``, ``seed``, ``presence_penalty``,
``frequency_penalty`` and ``stream`` (server-sent events). The prompt is the model's chat
template (course-gpt: one line per message, ``User: ...``, then ``Assistant:``); the assistant's
turn ends at the end of its line. ``--api-key`` makes a key required (401 otherwise);
``--rate-limit N`` allows N requests a minute (429 past it).

:func:`chat` sends a request and turns every API error into a one-line :class:`ServingError`
that says what to do (wrong key, rate limit, server down, timeout). The key itself is never
printed, logged or put in a message.
"""

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from pathlib import Path

__all__ = ["DEFAULT_API_MODEL", "ServingError", "build_app", "chat", "complete", "connect", "local_server"]

DEFAULT_API_MODEL = "gpt-4o-mini"  # the model connect() uses with a real OpenAI key
END_OF_TURN = "\n"  # course-gpt's chat template puts each message on one line


class ServingError(RuntimeError):
    """An API call failed; the message is one line saying what to do (shown without a traceback)."""

    def _render_traceback_(self):  # IPython shows this instead of a traceback
        return [f"ServingError: {self}"]


# ================================================================ the server


class _Generator:
    """The model, its tokenizer and a lock: one generation at a time."""

    def __init__(self, model: str):
        import torch

        from llmcourse import models

        torch.set_num_threads(int(os.environ.get("LLMCOURSE_SERVER_THREADS", "1")))
        self.name = Path(model).name if Path(model).is_dir() else model
        self.model, self.tokenizer = models.load(model, device="cpu")
        self.lock = threading.Lock()
        self.context = getattr(self.model.config, "n_positions", None) or getattr(
            self.model.config, "max_position_embeddings", 1024
        )

    def prompt_ids(self, text: str, max_tokens: int):
        ids = self.tokenizer(text, return_tensors="pt").input_ids
        keep = max(1, self.context - max_tokens)
        return ids[:, -keep:]

    def tokens(
        self, ids, *, temperature, top_p, max_tokens, presence_penalty, frequency_penalty, generator
    ) -> Iterator[int]:
        """Token ids of one completion (KV cache), until the end-of-text token or max_tokens."""
        import torch

        from llmcourse import decoding

        prompt_length = ids.shape[1]
        past, step_ids, all_ids = None, ids, ids
        with torch.no_grad():
            for _ in range(max_tokens):
                out = self.model(step_ids, past_key_values=past, use_cache=True)
                past = out.past_key_values
                logits = out.logits[:, -1, :].float()
                if temperature == 0:
                    tok = logits.argmax(-1)
                else:
                    tok = decoding.sample(
                        logits,
                        all_ids,
                        generator=generator,
                        temperature=temperature,
                        top_p=None if top_p >= 1 else top_p,
                        frequency_penalty=frequency_penalty,
                        presence_penalty=presence_penalty,
                        prompt_length=prompt_length,
                    )
                if int(tok) == self.tokenizer.eos_token_id:
                    return
                step_ids = tok.view(1, 1)
                all_ids = torch.cat([all_ids, step_ids], dim=1)
                if all_ids.shape[1] >= self.context:
                    yield int(tok)
                    return
                yield int(tok)

    def completion(self, ids, stops: list[str], end_of_turn: bool = True, **kw) -> Iterator[tuple[str, str | None]]:
        """Text pieces of one completion as they become safe to send, then ``("", finish_reason)``.

        A piece is held back while it could still be the start of a stop string, so that a stop
        string never reaches the client, streamed or not.
        """
        stops = [*stops, END_OF_TURN] if end_of_turn else list(stops)
        hold = max((len(s) for s in stops), default=1) - 1
        generated: list[int] = []
        sent = 0
        text = ""
        for tok in self.tokens(ids, **kw):
            generated.append(tok)
            text = self.tokenizer.decode(generated)
            if end_of_turn:
                text = text.lstrip(" ")  # the chat template's "Assistant:" is followed by a space
            found = [text.find(s) for s in stops if s in text]
            if found:
                cut = min(found)
                yield text[sent:cut], None
                yield "", "stop"
                return
            safe = len(text) - hold
            if text.endswith("\ufffd"):  # half a character: wait for the rest
                safe = min(safe, len(text) - 1)
            if safe > sent:
                yield text[sent:safe], None
                sent = safe
        yield text[sent:], None
        yield "", ("length" if len(generated) >= kw["max_tokens"] else "stop")


def _error(status: int, message: str, kind: str, code: str | None = None):
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}}, status_code=status)


def build_app(model: str = "course-gpt", api_key: str | None = None, rate_limit: int | None = None):
    """The FastAPI application serving ``model`` (a bundled name or a model folder)."""
    import torch
    from fastapi import FastAPI, Request
    from fastapi.responses import StreamingResponse

    gen = _Generator(model)
    app = FastAPI(title=f"llmcourse local server ({gen.name})")
    recent: deque[float] = deque()

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if request.url.path.startswith("/v1/"):
            if api_key is not None and request.headers.get("authorization", "") != f"Bearer {api_key}":
                return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
            if rate_limit is not None:
                now = time.monotonic()
                while recent and now - recent[0] > 60:
                    recent.popleft()
                if len(recent) >= rate_limit:
                    return _error(
                        429, f"Rate limit reached: {rate_limit} requests per minute.", "requests", "rate_limit_exceeded"
                    )
                recent.append(now)
        return await call_next(request)

    @app.get("/health")
    def health():
        return {"status": "ok", "model": gen.name}

    @app.get("/v1/models")
    def list_models():
        return {"object": "list", "data": [{"id": gen.name, "object": "model", "created": 0, "owned_by": "llmcourse"}]}

    def parameters(body: dict):
        """The sampling controls of a request (OpenAI's names and defaults), or an error response."""
        if body.get("model") != gen.name:
            return _error(
                404,
                f"The model {body.get('model')!r} does not exist; this server has {gen.name!r}.",
                "invalid_request_error",
                "model_not_found",
            )
        stop = body.get("stop") or []
        stops = [stop] if isinstance(stop, str) else list(stop)
        temperature = float(body.get("temperature") if body.get("temperature") is not None else 1.0)
        top_p = float(body.get("top_p") if body.get("top_p") is not None else 1.0)
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 64)
        n = int(body.get("n") or 1)
        if (
            not (0 <= temperature <= 2)
            or not (0 < top_p <= 1)
            or not (1 <= n <= 16)
            or max_tokens < 1
            or any(not s for s in stops)
            or len(stops) > 4
        ):
            return _error(
                400,
                "temperature must be in [0, 2], top_p in (0, 1], n in [1, 16], max_tokens >= 1, at most 4 non-empty "
                "stop strings.",
                "invalid_request_error",
            )
        seed = body.get("seed")
        generator = torch.Generator().manual_seed(
            int(seed) if seed is not None else int.from_bytes(os.urandom(6), "big")
        )
        kw = {
            "temperature": temperature,
            "top_p": top_p,
            "max_tokens": max_tokens,
            "generator": generator,
            "presence_penalty": float(body.get("presence_penalty") or 0.0),
            "frequency_penalty": float(body.get("frequency_penalty") or 0.0),
        }
        return stops, n, kw

    async def respond(body: dict, ids, chat_format: bool):
        from starlette.concurrency import run_in_threadpool

        parsed = parameters(body)
        if not isinstance(parsed, tuple):
            return parsed
        stops, n, kw = parsed
        cid = f"{'chatcmpl' if chat_format else 'cmpl'}-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        def choice_of(i, text, finish):
            if chat_format:
                return {
                    "index": i,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish,
                    "logprobs": None,
                }
            return {"index": i, "text": text, "finish_reason": finish, "logprobs": None}

        if body.get("stream"):

            def chunk(i, content, finish=None, first=False):
                if chat_format:
                    delta = {} if finish else ({"role": "assistant", "content": ""} if first else {"content": content})
                    choice = {"index": i, "delta": delta, "finish_reason": finish, "logprobs": None}
                else:
                    choice = {"index": i, "text": content, "finish_reason": finish, "logprobs": None}
                data = {
                    "id": cid,
                    "object": "chat.completion.chunk" if chat_format else "text_completion",
                    "created": created,
                    "model": gen.name,
                    "choices": [choice],
                }
                return f"data: {json.dumps(data)}\n\n"

            def events():
                with gen.lock:
                    for i in range(n):
                        if chat_format:
                            yield chunk(i, "", first=True)
                        for piece, finish in gen.completion(ids, stops, chat_format, **kw):
                            if finish is not None:
                                yield chunk(i, "", finish)
                            elif piece:
                                yield chunk(i, piece)
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")

        def complete():
            choices, produced = [], 0
            with gen.lock:
                for i in range(n):
                    pieces, finish = [], "stop"
                    for piece, reason in gen.completion(ids, stops, chat_format, **kw):
                        pieces.append(piece)
                        finish = reason or finish
                    text = "".join(pieces)
                    produced += len(gen.tokenizer(text).input_ids)
                    choices.append(choice_of(i, text, finish))
            return choices, produced

        choices, produced = await run_in_threadpool(complete)
        prompt_tokens = int(ids.shape[1])
        return {
            "id": cid,
            "object": "chat.completion" if chat_format else "text_completion",
            "created": created,
            "model": gen.name,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": produced,
                "total_tokens": prompt_tokens + produced,
            },
        }

    async def json_body(request: Request):
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        body = await json_body(request)
        if body is None:
            return _error(400, "The body must be a JSON object.", "invalid_request_error")
        messages = body.get("messages")
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, dict) and "role" in m for m in messages)
        ):
            return _error(400, "messages must be a non-empty list of {role, content} objects.", "invalid_request_error")
        messages = [{"role": m["role"], "content": m.get("content") or ""} for m in messages]
        text = gen.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return await respond(body, gen.prompt_ids(text, int(body.get("max_tokens") or 64)), chat_format=True)

    @app.post("/v1/completions")
    async def completions(request: Request):
        """The older text-completion endpoint: the prompt is continued as it is (no chat template)."""
        body = await json_body(request)
        if body is None or not isinstance(body.get("prompt"), str) or not body.get("prompt"):
            return _error(400, "prompt must be a non-empty string.", "invalid_request_error")
        return await respond(body, gen.prompt_ids(body["prompt"], int(body.get("max_tokens") or 64)), chat_format=False)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m llmcourse.serving", description="OpenAI-compatible server for a course model"
    )
    parser.add_argument("--model", default="course-gpt", help="a bundled model's name or a model folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--fd", type=int, default=None, help="serve on this bound socket instead (local_server's)")
    parser.add_argument("--rate-limit", type=int, default=None, help="requests per minute (429 past it)")
    parser.add_argument(
        "--parent-pid", type=int, default=None, help="exit when this process is gone (a kernel that died)"
    )
    args = parser.parse_args(argv)
    if args.parent_pid:

        def watch(parent: int = args.parent_pid) -> None:
            while os.getppid() == parent:
                time.sleep(1)
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    api_key = (
        os.environ.get("LLMCOURSE_SERVER_KEY") or None
    )  # from the environment, never the command line (ps shows it)
    import uvicorn

    app = build_app(args.model, api_key, args.rate_limit)
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False))
    server.run(sockets=None if args.fd is None else [socket.socket(fileno=args.fd)])
    if not server.started:
        sys.exit(3)  # as uvicorn.run: the app or the socket failed at start-up


# ================================================================ starting it, and talking to it


def _bound_socket() -> socket.socket:
    """A socket bound to a free port of the system's choosing, not yet listening: handed to the
    server process as it is, so that no other process can take the port in between."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def _stop(process: subprocess.Popen) -> None:
    """Terminate the server's whole process group, then kill what is left."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def local_server(
    model: str = "course-gpt",
    *,
    api_key: str | None = None,
    rate_limit: int | None = None,
    port: int | None = None,
    timeout: float = 120.0,
    client_timeout: float = 60.0,
):
    """Start the course's server in a subprocess; yield ``(client, model_name)``; stop it.

    ``client`` is an ``openai.OpenAI`` pointed at the server (no retries, so errors show at
    once). With ``api_key`` the server requires that key and the client sends it. Raises
    :class:`ServingError` naming the cause (and the server's last log lines) when it does not
    start within ``timeout`` seconds.
    """
    import httpx
    from openai import OpenAI

    name = Path(model).name if Path(model).is_dir() else model
    listener = None if port else _bound_socket()
    if listener is not None:
        port = listener.getsockname()[1]
        address = ["--fd", str(listener.fileno())]
    else:
        address = ["--port", str(port)]
    command = [
        sys.executable,
        "-m",
        "llmcourse.serving",
        "--model",
        str(model),
        *address,
        "--parent-pid",
        str(os.getpid()),
    ]
    if rate_limit is not None:
        command += ["--rate-limit", str(rate_limit)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("LLMCOURSE_SERVER_KEY", None)
    if api_key is not None:
        env["LLMCOURSE_SERVER_KEY"] = api_key
    log = tempfile.NamedTemporaryFile("w+", prefix="llmcourse-server-", suffix=".log", delete=False)  # noqa: SIM115 - closed in finally
    try:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            pass_fds=() if listener is None else (listener.fileno(),),
        )
    finally:
        if listener is not None:
            listener.close()  # the server holds its own copy
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise ServingError(
                    f"the local server for {model!r} exited with code {process.returncode} before it was ready: "
                    f"{_last_lines(log.name)}"
                )
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise ServingError(
                    f"the local server for {model!r} did not answer on port {port} within {timeout:.0f} s: "
                    f"{_last_lines(log.name)}"
                )
            time.sleep(0.2)
        client = OpenAI(
            base_url=f"{base}/v1", api_key=api_key or "no-key-needed", max_retries=0, timeout=client_timeout
        )
        yield client, name
    finally:
        _stop(process)
        log.close()
        with contextlib.suppress(OSError):
            os.unlink(log.name)


def _last_lines(path: str, n: int = 3) -> str:
    lines = [line.strip() for line in Path(path).read_text(errors="replace").splitlines() if line.strip()]
    return " | ".join(lines[-n:]) or "no output"


@contextlib.contextmanager
def connect(model: str | None = None, env_file: str | os.PathLike | None = None, local_model: str = "course-gpt"):
    """The real OpenAI API when ``OPENAI_API_KEY`` is set (in the environment or a ``.env`` file),
    else :func:`local_server` with ``local_model`` (``course-gpt``, or the chat model ``course-chat``):
    yields ``(client, model_name)`` either way. ``model``, when given, is used in both cases.

    A missing key is not an error: it selects the local server.
    """
    from dotenv import load_dotenv

    load_dotenv(env_file or None)
    if os.environ.get("OPENAI_API_KEY"):
        from openai import OpenAI

        yield OpenAI(max_retries=1, timeout=60), model or DEFAULT_API_MODEL
        return
    with local_server(model or local_model) as pair:
        yield pair


@contextlib.contextmanager
def _one_line_errors(client, model: str):
    """Turn the openai client's exceptions into a one-line ServingError saying what to do."""
    import openai

    where = str(getattr(client, "base_url", "the server"))
    try:
        yield
    except openai.AuthenticationError:
        raise ServingError(
            "401: the server refused the API key. Check OPENAI_API_KEY in your .env file, "
            "or remove it to use the local server."
        ) from None
    except openai.RateLimitError:
        raise ServingError("429: rate limit reached. Wait a minute and try again, or send fewer requests.") from None
    except openai.APITimeoutError:
        raise ServingError(
            f"timeout: {where} did not answer in time. Ask for fewer tokens (max_tokens) or raise the client's timeout."
        ) from None
    except openai.APIConnectionError:
        raise ServingError(
            f"cannot reach {where}: is the server running? Start it with local_server(), or check your network."
        ) from None
    except openai.NotFoundError:
        raise ServingError(
            f"404: the server has no model {model!r}. Use the model name local_server() or connect() gave you."
        ) from None
    except openai.APIStatusError as exc:
        message = " ".join(str(getattr(exc, "message", exc)).split())[:200]
        raise ServingError(f"{exc.status_code}: the request was refused ({message}). Check its parameters.") from None


def chat(client, model: str, messages: list[dict], **kw) -> str | list[str]:
    """Send a chat completion; return its text (a list of texts when ``n > 1``).

    Every failure becomes a :class:`ServingError` with one line saying what to do.
    """
    with _one_line_errors(client, model):
        response = client.chat.completions.create(model=model, messages=messages, **kw)
    texts = [choice.message.content or "" for choice in response.choices]
    return texts[0] if len(texts) == 1 else texts


def complete(client, model: str, prompt: str, **kw) -> str | list[str]:
    """Continue ``prompt`` as it is (the text-completion endpoint, no chat template); errors as :func:`chat`."""
    with _one_line_errors(client, model):
        response = client.completions.create(model=model, prompt=prompt, **kw)
    texts = [choice.text or "" for choice in response.choices]
    return texts[0] if len(texts) == 1 else texts


if __name__ == "__main__":
    main()
