"""Wire tests: the real `openai` and `dashscope` SDKs send what `build_request` builds.

A recording HTTP server on 127.0.0.1 stands in for Model Studio: it records each request's method,
path, headers and JSON body and answers with a minimal valid response for each API (an SSE stream
when the request streams: `"stream": true` on the OpenAI-compatible API, `X-DashScope-SSE: enable`
on DashScope), so the SDK call returns without error. The recorded body must equal `build_request(...).body` and the recorded
path the path of `build_request(...).url`, for each of the six part kinds of SPEC §4 and both APIs.

Nothing here reaches the internet: proxies are cleared from the environment, no real API key is
seen, and every DNS lookup and socket connect to anything but loopback is refused and reported.

The SDKs are the `wire` extra (`pip install mediaprep[wire]`); without them these tests skip.

What the DashScope SDK (2.0.2) does to content, read from `dashscope/utils/oss_utils.py`: for every
value under "image", "video", "audio" *and "text"* in a user message, a `file://` URI, or any string
not starting with "http" that names an existing local file, is uploaded to OSS (a `getPolicy` request
to `{base}/uploads`, then a POST of the file to an OSS host) and replaced by an `oss://` URL. https
URLs and data URLs are left alone, so the tests below use only those; `file://` parts are not sent
through the SDK here because the upload would leave the machine. `test_dashscope_sdk_uploads_…`
pins the surprising case (a text part that happens to be a local path) against the local server.

The forms of issue 11 go through their clients as a user writes them: `openai_kwargs()` into the
sync and async `openai` clients, `dashscope_kwargs()` into `MultiModalConversation.call` /
`Generation.call`, `http()` into httpx; the README's two request blocks are extracted (by their
`<!-- tested: … -->` markers) and run as written, with only the base URL's host pointed here.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest

from mediaprep.parts import image_list_part, image_part, video_part
from mediaprep.request import BuiltRequest, build_request

WS = "ws-wire"
REGION = "ap-southeast-1"
IMG_URL = "https://example.com/dog_and_girl.jpeg"
IMG_DATA = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
VID_URL = "https://example.com/1.mp4"
VID_DATA = "data:video/mp4;base64,AAAAIGZ0eXBpc29tAAACAGlzb21pc28yYXZjMW1wNDE="
FRAMES = [f"https://example.com/football{i}.jpg" for i in range(1, 5)]
PROMPT = "Describe what you see."
LOOPBACK = ("127.0.0.1", "::1", "localhost")

OPENAI_REPLY = {
    "id": "chatcmpl-wire",
    "object": "chat.completion",
    "created": 1762753998,
    "model": "kimi-k2.6",
    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None, "message": {"role": "assistant", "content": "ok"}}],
    "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9},
}
DASHSCOPE_REPLY = {
    "output": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": [{"text": "ok"}]}}]},
    "usage": {"input_tokens": 9, "output_tokens": 1, "total_tokens": 10},
    "request_id": "wire-test",
}




def _openai_sse() -> bytes:
    """A streamed chat completion: a content chunk, a finish chunk, the usage chunk (asked for by
    stream_options.include_usage), then [DONE]."""
    head = {"id": "chatcmpl-wire", "object": "chat.completion.chunk", "created": 1762753998, "model": "kimi-k2.6"}
    chunks = [
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": None}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**head, "choices": [], "usage": OPENAI_REPLY["usage"]},
    ]
    return ("".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n").encode()


def _dashscope_sse() -> bytes:
    """A streamed DashScope answer in the message format, one event, as the service frames it."""
    return f"id:1\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(DASHSCOPE_REPLY)}\n\n".encode()


# ---- the recording server -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recorded:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # keys lower-cased
    body: Any  # parsed JSON, or None when there was no body


class Recorder:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()

    def add(self, item: Recorded) -> None:
        with self.lock:
            self.requests.append(item)

    def only(self) -> Recorded:
        assert len(self.requests) == 1, [f"{r.method} {r.path}" for r in self.requests]
        return self.requests[0]


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            recorder.add(
                Recorded(
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=json.loads(raw) if raw else None,
                )
            )
            path = urlsplit(self.path).path
            body = json.loads(raw) if raw else None
            content_type = "application/json"
            if self.command == "POST" and path.endswith("/chat/completions") and isinstance(body, dict) and body.get("stream"):
                status, data, content_type = 200, _openai_sse(), "text/event-stream"
            elif self.command == "POST" and path.endswith("/generation") and self.headers.get("X-DashScope-SSE") == "enable":
                status, data, content_type = 200, _dashscope_sse(), "text/event-stream;charset=UTF-8"
            else:
                if self.command == "POST" and path.endswith("/chat/completions"):
                    status, reply = 200, OPENAI_REPLY
                elif self.command == "POST" and path.endswith("/generation"):
                    status, reply = 200, DASHSCOPE_REPLY
                else:  # anything else (an upload policy request, say) is recorded and refused
                    status, reply = 404, {"code": "NotFound", "message": f"no {path} here", "request_id": "wire-test"}
                data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
            pass

    return Handler


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    thread = threading.Thread(target=httpd.serve_forever, name="wire-recorder", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", recorder
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def recorder(server: tuple[str, Recorder]) -> Recorder:
    server[1].requests.clear()
    return server[1]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """No proxies, no real keys, and no connection beyond loopback (attempts are refused and fail the test)."""
    for key in list(os.environ):
        if key.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ws_proxy", "wss_proxy"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for key in ("DASHSCOPE_API_KEY", "DASHSCOPE_API_KEY_FILE_PATH", "DASHSCOPE_WORKSPACE_ID", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(key, raising=False)

    attempts: list[Any] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name not in LOOPBACK:
            attempts.append(("dns", name))
            raise socket.gaierror(socket.EAI_NONAME, f"wire tests are offline: no lookup of {name}")
        return real_getaddrinfo(host, *args, **kwargs)

    def _allowed(sock: socket.socket, address: Any) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return True
        return address[0] in LOOPBACK

    def connect(self: socket.socket, address: Any) -> None:
        if not _allowed(self, address):
            attempts.append(("connect", address))
            raise ConnectionRefusedError(f"wire tests are offline: no connection to {address}")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _allowed(self, address):
            attempts.append(("connect", address))
            raise ConnectionRefusedError(f"wire tests are offline: no connection to {address}")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield attempts
    assert attempts == [], f"a test tried to leave the machine: {attempts}"


@pytest.fixture
def openai_sdk() -> ModuleType:
    return pytest.importorskip("openai")


@pytest.fixture
def dashscope_sdk(server: tuple[str, Recorder], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    dashscope = pytest.importorskip("dashscope")
    # The region's DashScope base, with the host swapped for the recorder; restored after the test.
    base_path = urlsplit(build_request(model="kimi-k2.6", api="dashscope", content=["x"], region=REGION, workspace_id=WS).url).path
    monkeypatch.setattr(dashscope, "base_http_api_url", server[0] + base_path.split("/services/")[0])
    return dashscope


# ---- the six part kinds ---------------------------------------------------------------------

KINDS: dict[str, Any] = {
    "image URL": lambda api: [image_part(IMG_URL, api), PROMPT],
    "image data URL": lambda api: [image_part(IMG_DATA, api), PROMPT],
    "video URL with fps": lambda api: [video_part(VID_URL, api, fps=2), PROMPT],
    "video data URL": lambda api: [video_part(VID_DATA, api, fps=0.5, max_frames=64 if api == "dashscope" else None), PROMPT],
    "image list with fps": lambda api: [image_list_part(FRAMES, api, fps=2), PROMPT],
    "text": lambda api: [PROMPT],
}


def _send_openai(openai: ModuleType, base: str, req: BuiltRequest) -> Any:
    """Send `req` as a user of the OpenAI SDK would: `enable_thinking` through `extra_body`."""
    path = urlsplit(req.url).path
    client = openai.OpenAI(base_url=base + path.removesuffix("/chat/completions"), api_key="test", max_retries=0, timeout=10)
    params = {k: v for k, v in req.body.items() if k not in ("model", "messages", "enable_thinking")}
    try:
        return client.chat.completions.create(
            model=req.body["model"],
            messages=req.body["messages"],
            extra_body={"enable_thinking": req.body["enable_thinking"]},
            **params,
        )
    finally:
        client.close()


def _send_dashscope(dashscope: ModuleType, req: BuiltRequest, **extra: Any) -> Any:
    return dashscope.MultiModalConversation.call(
        model=req.body["model"],
        messages=req.body["input"]["messages"],
        api_key="test",
        **req.body["parameters"],
        **extra,
    )


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("thinking", [False, True])
def test_openai_sdk_sends_what_build_request_builds(
    kind: str, thinking: bool, openai_sdk: ModuleType, server: tuple[str, Recorder], recorder: Recorder
) -> None:
    req = build_request(model="kimi-k2.6", api="openai", content=KINDS[kind]("openai"), region=REGION, workspace_id=WS, enable_thinking=thinking)
    completion = _send_openai(openai_sdk, server[0], req)
    assert completion.choices[0].message.content == "ok"

    sent = recorder.only()
    assert sent.method == "POST"
    assert sent.path == urlsplit(req.url).path == "/compatible-mode/v1/chat/completions"
    assert sent.headers["content-type"].startswith("application/json")
    assert sent.headers["authorization"] == "Bearer test"  # the SDK adds it; build_request never does
    assert sent.body["messages"] == req.body["messages"]
    assert sent.body["enable_thinking"] is thinking  # top level, from extra_body
    assert sent.body == req.body  # nothing added, dropped or renamed


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("thinking", [False, True])
def test_dashscope_sdk_sends_what_build_request_builds(
    kind: str, thinking: bool, dashscope_sdk: ModuleType, recorder: Recorder
) -> None:
    req = build_request(model="kimi-k2.6", api="dashscope", content=KINDS[kind]("dashscope"), region=REGION, workspace_id=WS, enable_thinking=thinking)
    response = _send_dashscope(dashscope_sdk, req)
    assert response.status_code == 200
    assert response.output.choices[0].message.content == [{"text": "ok"}]
    assert response.request_id == "wire-test"

    sent = recorder.only()
    assert sent.method == "POST"
    assert sent.path == urlsplit(req.url).path == "/api/v1/services/aigc/multimodal-generation/generation"
    assert sent.headers["content-type"].startswith("application/json")
    assert sent.headers["authorization"] == "Bearer test"
    assert "x-dashscope-ossresourceresolve" not in sent.headers  # nothing was uploaded
    assert sent.body["input"]["messages"] == req.body["input"]["messages"]
    assert sent.body["parameters"]["enable_thinking"] is thinking
    assert sent.body == req.body


def test_dashscope_sdk_streaming_matches_the_built_headers(dashscope_sdk: ModuleType, recorder: Recorder) -> None:
    """DashScope takes `stream` as a header, not a parameter: the SDK and build_request agree."""
    req = build_request(
        model="kimi-k2.6", api="dashscope", content=KINDS["image URL"]("dashscope"), region=REGION, workspace_id=WS, stream=True, incremental_output=True
    )
    assert "stream" not in req.body["parameters"]
    chunks = list(_send_dashscope(dashscope_sdk, req, stream=True))  # the recorder answers an SSE stream
    assert [c.output.choices[0].message.content for c in chunks] == [[{"text": "ok"}]]

    sent = recorder.only()
    assert sent.body == req.body
    for name in ("X-DashScope-SSE", "Accept"):
        assert sent.headers[name.lower()] == req.headers[name]


def test_dashscope_sdk_text_model_uses_the_text_path(dashscope_sdk: ModuleType, recorder: Recorder) -> None:
    """A text-only model: the text-generation path with string content, as `dashscope.Generation` sends it."""
    req = build_request(model="kimi-k2-thinking", api="dashscope", content=["Who are you?", "Be brief."], region=REGION, workspace_id=WS)
    assert [v.code for v in req.violations] == ["request.model_retired"]  # retired, but the shape is still checked
    response = dashscope_sdk.Generation.call(
        model=req.body["model"], messages=req.body["input"]["messages"], api_key="test", **req.body["parameters"]
    )
    assert response.status_code == 200

    sent = recorder.only()
    assert sent.path == urlsplit(req.url).path == "/api/v1/services/aigc/text-generation/generation"
    assert sent.body == req.body
    assert sent.body["input"]["messages"][0]["content"] == "Who are you?\nBe brief."


def test_dashscope_sdk_uploads_a_text_part_that_names_a_local_file(
    dashscope_sdk: ModuleType, recorder: Recorder, tmp_path: Path
) -> None:
    """Pins a surprise of the DashScope SDK (2.0.2): text that is the path of an existing file is uploaded.

    The SDK asks `{base}/uploads?action=getPolicy` for OSS credentials before anything else; the
    recorder refuses, so nothing leaves the machine and the call fails. If this test starts failing,
    the SDK changed: update the module docstring.
    """
    local = tmp_path / "notes.txt"
    local.write_text("private")
    req = build_request(model="kimi-k2.6", api="dashscope", content=[str(local)], region=REGION, workspace_id=WS)
    with pytest.raises(Exception):  # noqa: B017 - whatever the SDK raises on a refused policy request
        _send_dashscope(dashscope_sdk, req)
    sent = recorder.only()
    assert sent.method == "GET"
    assert sent.path.startswith("/api/v1/uploads?action=getPolicy")


# ==== issue 11: each form through its real client ============================================

import asyncio  # noqa: E402
import inspect  # noqa: E402
import re  # noqa: E402

from mediaprep import request as rq  # noqa: E402
from mediaprep.rules import DEFAULT_REGION  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _local(server: str, base_url: str, host: str) -> str:
    """`base_url` with its https host swapped for the recorder (the host checked first)."""
    parts = urlsplit(base_url)
    assert (parts.scheme, parts.netloc) == ("https", host), base_url
    return server + parts.path


WS_HOST = f"{WS}.{REGION}.maas.aliyuncs.com"


def test_the_static_openai_names_are_keywords_of_the_installed_sdk(openai_sdk: ModuleType) -> None:
    """`OPENAI_CREATE_PARAMS` (static, in request.py) against `create`'s signature, read only here."""
    from openai.resources.chat.completions import AsyncCompletions, Completions

    for cls in (Completions, AsyncCompletions):
        accepted = set(inspect.signature(cls.create).parameters)
        assert set(rq.OPENAI_CREATE_PARAMS) <= accepted, set(rq.OPENAI_CREATE_PARAMS) - accepted
        assert "enable_thinking" not in accepted and "preserve_thinking" not in accepted and "extra_body" in accepted


def test_the_raw_body_is_refused_by_create_and_openai_kwargs_are_not(openai_sdk: ModuleType, server: tuple[str, Recorder], recorder: Recorder) -> None:
    req = build_request(model="kimi-k2.6", api="openai", content=KINDS["image URL"]("openai"), region=REGION, workspace_id=WS, enable_thinking=True, preserve_thinking=True)
    client = openai_sdk.OpenAI(base_url=_local(server[0], req.base_url, WS_HOST), api_key="test", max_retries=0, timeout=10)
    try:
        with pytest.raises(TypeError, match="enable_thinking"):
            client.chat.completions.create(**req.body)  # what users tried before openai_kwargs()
        assert recorder.requests == []
        completion = client.chat.completions.create(**req.openai_kwargs())
    finally:
        client.close()
    assert completion.choices[0].message.content == "ok"
    sent = recorder.only()
    assert sent.path == urlsplit(req.url).path
    assert sent.body == req.body
    assert sent.body["enable_thinking"] is True and sent.body["preserve_thinking"] is True


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("client_kind", ["sync", "async"])
def test_openai_kwargs_through_sync_and_async_clients(
    kind: str, client_kind: str, openai_sdk: ModuleType, server: tuple[str, Recorder], recorder: Recorder
) -> None:
    req = build_request(model="kimi-k2.6", api="openai", content=KINDS[kind]("openai"), region=REGION, workspace_id=WS, enable_thinking=True, max_tokens=64)
    base = _local(server[0], req.base_url, WS_HOST)
    if client_kind == "sync":
        with openai_sdk.OpenAI(base_url=base, api_key="test", max_retries=0, timeout=10) as client:
            completion = client.chat.completions.create(**req.openai_kwargs())
    else:

        async def send() -> Any:
            async with openai_sdk.AsyncOpenAI(base_url=base, api_key="test", max_retries=0, timeout=10) as client:
                return await client.chat.completions.create(**req.openai_kwargs())

        completion = asyncio.run(send())
    assert completion.choices[0].message.content == "ok"
    sent = recorder.only()
    assert sent.path == urlsplit(req.url).path and sent.headers["authorization"] == "Bearer test"
    assert sent.body == req.body


@pytest.mark.parametrize("client_kind", ["sync", "async"])
def test_openai_streaming_sends_stream_options_and_reads_the_usage(
    client_kind: str, openai_sdk: ModuleType, server: tuple[str, Recorder], recorder: Recorder
) -> None:
    req = build_request(model="kimi-k2.6", api="openai", content=KINDS["image data URL"]("openai"), region=REGION, workspace_id=WS, stream=True)
    base = _local(server[0], req.base_url, WS_HOST)
    if client_kind == "sync":
        with openai_sdk.OpenAI(base_url=base, api_key="test", max_retries=0, timeout=10) as client:
            chunks = list(client.chat.completions.create(**req.openai_kwargs()))
    else:

        async def send() -> list[Any]:
            async with openai_sdk.AsyncOpenAI(base_url=base, api_key="test", max_retries=0, timeout=10) as client:
                stream = await client.chat.completions.create(**req.openai_kwargs())
                return [chunk async for chunk in stream]

        chunks = asyncio.run(send())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "ok"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 9  # include_usage at work
    sent = recorder.only()
    assert sent.body == req.body
    assert sent.body["stream"] is True and sent.body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("kind", list(KINDS))
def test_dashscope_kwargs_through_the_sdk(kind: str, dashscope_sdk: ModuleType, server: tuple[str, Recorder], recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    req = build_request(model="kimi-k2.6", api="dashscope", content=KINDS[kind]("dashscope"), region=REGION, workspace_id=WS, enable_thinking=True)
    monkeypatch.setattr(dashscope_sdk, "base_http_api_url", _local(server[0], req.base_url, WS_HOST))
    response = dashscope_sdk.MultiModalConversation.call(api_key="test", **req.dashscope_kwargs())
    assert response.status_code == 200 and response.output.choices[0].message.content == [{"text": "ok"}]
    sent = recorder.only()
    assert sent.path == urlsplit(req.url).path
    assert sent.body == req.body
    assert "x-dashscope-sse" not in sent.headers


def test_dashscope_streaming_kwargs_send_the_page_parameters_and_sse_headers(
    dashscope_sdk: ModuleType, server: tuple[str, Recorder], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = build_request(model="kimi-k2.6", api="dashscope", content=KINDS["image list with fps"]("dashscope"), region=REGION, workspace_id=WS, enable_thinking=True, stream=True)
    monkeypatch.setattr(dashscope_sdk, "base_http_api_url", _local(server[0], req.base_url, WS_HOST))
    chunks = list(dashscope_sdk.MultiModalConversation.call(api_key="test", **req.dashscope_kwargs()))
    assert [c.output.choices[0].message.content for c in chunks] == [[{"text": "ok"}]]
    sent = recorder.only()
    assert sent.body == req.body
    assert sent.body["parameters"]["result_format"] == "message" and sent.body["parameters"]["incremental_output"] is True
    for name, value in req.headers.items():
        assert sent.headers[name.lower()].startswith(value), name  # Content-Type may carry a charset


def test_dashscope_kwargs_for_a_text_model_through_generation(dashscope_sdk: ModuleType, server: tuple[str, Recorder], recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    req = build_request(model="kimi-k2-thinking", api="dashscope", content=["Who are you?"], region=REGION, workspace_id=WS)
    monkeypatch.setattr(dashscope_sdk, "base_http_api_url", _local(server[0], req.base_url, WS_HOST))
    assert dashscope_sdk.Generation.call(api_key="test", **req.dashscope_kwargs()).status_code == 200
    sent = recorder.only()
    assert sent.path == urlsplit(req.url).path and sent.body == req.body


@pytest.mark.parametrize("api", ["openai", "dashscope"])
@pytest.mark.parametrize("stream", [False, True])
def test_the_http_form_through_httpx(api: str, stream: bool, server: tuple[str, Recorder], recorder: Recorder) -> None:
    import httpx

    req = build_request(model="kimi-k2.6", api=api, content=KINDS["video URL with fps"](api), region=REGION, workspace_id=WS, stream=stream)  # type: ignore[arg-type]
    url, headers, body = req.http()
    parts = urlsplit(url)
    assert parts.netloc == WS_HOST
    answer = httpx.post(server[0] + parts.path, json=body, headers={**headers, "Authorization": "Bearer test"}, timeout=10)
    assert answer.status_code == 200
    sent = recorder.only()
    assert sent.body == req.body and sent.headers["authorization"] == "Bearer test"
    for name, value in headers.items():
        assert sent.headers[name.lower()] == value


# ---- the README's code, run as written --------------------------------------------------------


def _readme_block(marker: str) -> str:
    """The ```python block that follows `<!-- marker -->` in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- " + re.escape(marker) + r" -->\s*```python\n(.*?)\n```", text, flags=re.S)
    assert found, f"README.md has no ```python block after <!-- {marker} -->"
    return found.group(1)


@pytest.fixture
def readme_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from media import photo, save

    save(photo(64, 48), tmp_path / "photo.jpg", "JPEG")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-readme")
    monkeypatch.setenv("DASHSCOPE_WORKSPACE_ID", "ws-readme")
    return tmp_path


def _exec_readme(code: str, replacements: dict[str, str], names: dict[str, Any]) -> dict[str, Any]:
    for old, new in replacements.items():
        assert old in code, f"the README block no longer contains {old!r}"
        code = code.replace(old, new)
    namespace: dict[str, Any] = {"__name__": "readme", **names}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    return namespace


def test_readme_openai_block_runs(openai_sdk: ModuleType, readme_env: Path, server: tuple[str, Recorder], recorder: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    code = _readme_block("tested: openai")
    host = f"ws-readme.{DEFAULT_REGION}.maas.aliyuncs.com"
    ns = _exec_readme(code, {"base_url=built.base_url": "base_url=_to_local(built.base_url)"}, {"_to_local": lambda base: _local(server[0], base, host)})
    built = ns["built"]
    sent = recorder.only()
    assert sent.path == "/compatible-mode/v1/chat/completions" == urlsplit(built.url).path
    assert sent.headers["authorization"] == "Bearer sk-readme"
    assert sent.body == built.body and sent.body["messages"][0]["content"][0]["type"] == "image_url"
    assert capsys.readouterr().out.strip() == "ok"


def test_readme_dashscope_block_runs(dashscope_sdk: ModuleType, readme_env: Path, server: tuple[str, Recorder], recorder: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    code = _readme_block("tested: dashscope")
    host = f"ws-readme.{DEFAULT_REGION}.maas.aliyuncs.com"
    ns = _exec_readme(code, {"= built.base_url": "= _to_local(built.base_url)"}, {"_to_local": lambda base: _local(server[0], base, host)})
    built = ns["built"]
    sent = recorder.only()
    assert sent.path == urlsplit(built.url).path == "/api/v1/services/aigc/multimodal-generation/generation"
    assert sent.headers["authorization"] == "Bearer sk-readme"
    assert sent.body == built.body
    assert "ok" in capsys.readouterr().out
