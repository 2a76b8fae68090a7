"""Wire tests: the real `openai` and `dashscope` SDKs send what `build_request` builds.

A recording HTTP server on 127.0.0.1 stands in for Model Studio: it records each request's method,
path, headers and JSON body and answers with a minimal valid response for each API, so the SDK
call returns without error. The recorded body must equal `build_request(...).body` and the recorded
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
            if self.command == "POST" and path.endswith("/chat/completions"):
                status, reply = 200, OPENAI_REPLY
            elif self.command == "POST" and path.endswith("/generation"):
                status, reply = 200, DASHSCOPE_REPLY
            else:  # anything else (an upload policy request, say) is recorded and refused
                status, reply = 404, {"code": "NotFound", "message": f"no {path} here", "request_id": "wire-test"}
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
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
    list(_send_dashscope(dashscope_sdk, req, stream=True))  # the recorder answers plain JSON; the SDK accepts it

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
