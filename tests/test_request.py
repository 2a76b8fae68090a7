"""build_request: endpoints per region and API, model rules, defaults, and the exact bodies of SPEC §4–§5.

Expected URLs and bodies are written out literally (from SPEC.md and the seed page's curl examples),
never recomputed from `rules`, so a wrong table or a wrong builder fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mediaprep.errors import UsageError
from mediaprep.parts import image_list_part, image_part, text_part, video_part
from mediaprep.request import BuiltRequest, RequestError, build_request, endpoint, resolve_model

WS = "ws-7f3a"
IMG_URL = "https://example.com/dog_and_girl.jpeg"
IMG_DATA = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="
VID_URL = "https://example.com/1.mp4"
VID_DATA = "data:video/mp4;base64,AAAAIGZ0eXBpc29tAAACAGlzb20="
FRAMES = [f"https://example.com/football{i}.jpg" for i in range(1, 5)]
PROMPT = "What is in this?"
MM = "services/aigc/multimodal-generation/generation"
TG = "services/aigc/text-generation/generation"


def user_content(req: BuiltRequest) -> Any:
    messages = req.body["messages"] if req.api == "openai" else req.body["input"]["messages"]
    assert messages[-1]["role"] == "user"
    return messages[-1]["content"]


def params_of(req: BuiltRequest) -> dict[str, Any]:
    if req.api == "dashscope":
        return req.body["parameters"]
    return {k: v for k, v in req.body.items() if k not in ("model", "messages")}


# ---- endpoints: every region × API ------------------------------------------------------------

ENDPOINTS = [
    # region, openai, dashscope multimodal, dashscope text
    (
        "us-east-1",
        "https://dashscope-us.aliyuncs.com/compatible-mode/v1/chat/completions",
        f"https://dashscope-us.aliyuncs.com/api/v1/{MM}",
        f"https://dashscope-us.aliyuncs.com/api/v1/{TG}",
    ),
    (
        "eu-central-1",
        f"https://{WS}.eu-central-1.maas.aliyuncs.com/compatible-mode/v1/chat/completions",
        f"https://{WS}.eu-central-1.maas.aliyuncs.com/api/v1/{MM}",
        f"https://{WS}.eu-central-1.maas.aliyuncs.com/api/v1/{TG}",
    ),
    (
        "ap-southeast-1",
        f"https://{WS}.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1/chat/completions",
        f"https://{WS}.ap-southeast-1.maas.aliyuncs.com/api/v1/{MM}",
        f"https://{WS}.ap-southeast-1.maas.aliyuncs.com/api/v1/{TG}",
    ),
    (
        "ap-northeast-1",
        f"https://{WS}.ap-northeast-1.maas.aliyuncs.com/compatible-mode/v1/chat/completions",
        f"https://{WS}.ap-northeast-1.maas.aliyuncs.com/api/v1/{MM}",
        f"https://{WS}.ap-northeast-1.maas.aliyuncs.com/api/v1/{TG}",
    ),
    (
        "cn-beijing",
        f"https://{WS}.cn-beijing.maas.aliyuncs.com/compatible-mode/v1/chat/completions",
        f"https://{WS}.cn-beijing.maas.aliyuncs.com/api/v1/{MM}",
        f"https://{WS}.cn-beijing.maas.aliyuncs.com/api/v1/{TG}",
    ),
    (
        "cn-hongkong",
        f"https://{WS}.cn-hongkong.maas.aliyuncs.com/compatible-mode/v1/chat/completions",
        f"https://{WS}.cn-hongkong.maas.aliyuncs.com/api/v1/{MM}",
        f"https://{WS}.cn-hongkong.maas.aliyuncs.com/api/v1/{TG}",
    ),
]


@pytest.mark.parametrize(("region", "openai_url", "ds_mm_url", "ds_text_url"), ENDPOINTS)
def test_every_region_and_api_has_the_exact_url(region: str, openai_url: str, ds_mm_url: str, ds_text_url: str) -> None:
    # a multimodal model: OpenAI path, DashScope multimodal path (even for text-only content)
    assert build_request(model="kimi-k2.6", api="openai", content=[PROMPT], region=region, workspace_id=WS).url == openai_url
    assert build_request(model="kimi-k2.6", api="dashscope", content=[PROMPT], region=region, workspace_id=WS).url == ds_mm_url
    # a text-only model: OpenAI path, DashScope text path
    assert build_request(model="kimi-k2-thinking", api="openai", content=[PROMPT], region=region, workspace_id=WS).url == openai_url
    assert build_request(model="kimi-k2-thinking", api="dashscope", content=[PROMPT], region=region, workspace_id=WS).url == ds_text_url
    # the same through endpoint()
    assert endpoint(api="openai", region=region, workspace_id=WS) == openai_url
    assert endpoint(api="dashscope", region=region, workspace_id=WS, multimodal=True) == ds_mm_url
    assert endpoint(api="dashscope", region=region, workspace_id=WS, multimodal=False) == ds_text_url


def test_the_six_regions_are_all_covered() -> None:
    from mediaprep.rules import REGIONS

    assert sorted(REGIONS) == sorted(row[0] for row in ENDPOINTS)


def test_default_region_is_singapore() -> None:
    req = build_request(model="kimi-k2.6", api="openai", content=[PROMPT], workspace_id="abc")
    assert req.url == "https://abc.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1/chat/completions"


@pytest.mark.parametrize("region", ["eu-central-1", "ap-southeast-1", "ap-northeast-1", "cn-beijing", "cn-hongkong"])
@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_a_region_needing_a_workspace_without_one_keeps_the_placeholder_and_notes_it(region: str, api: str) -> None:
    """Issue 11 (7), on purpose: this was a UsageError; now the URL keeps {WorkspaceId} and `notes` says so."""
    req = build_request(model="kimi-k2.6", api=api, content=[PROMPT], region=region)  # type: ignore[arg-type]
    assert "https://{WorkspaceId}." + region + ".maas.aliyuncs.com/" in req.url
    assert req.violations == () and req.ok  # a note, not a violation (codes are a closed set)
    assert len(req.notes) == 1
    note = req.notes[0]
    assert "{WorkspaceId}" in note and f"region {region}" in note
    assert "workspace_id=" in note and "DASHSCOPE_WORKSPACE_ID" in note
    assert endpoint(api=api, region=region) == req.url  # type: ignore[arg-type]
    # with a workspace id: no note
    assert build_request(model="kimi-k2.6", api=api, content=[PROMPT], region=region, workspace_id=WS).notes == ()  # type: ignore[arg-type]


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_us_region_needs_no_workspace_and_ignores_one(api: str) -> None:
    without = build_request(model="kimi-k2.6", api=api, content=[PROMPT], region="us-east-1")  # type: ignore[arg-type]
    with_ws = build_request(model="kimi-k2.6", api=api, content=[PROMPT], region="us-east-1", workspace_id=WS)  # type: ignore[arg-type]
    assert without.url == with_ws.url
    assert without.url.startswith("https://dashscope-us.aliyuncs.com/")
    assert WS not in with_ws.url


@pytest.mark.parametrize("bad", ["ws/evil.com", "evil.com#", "a b", "-lead", "", "x" * 65, "ws\n"])
def test_a_workspace_id_that_is_no_host_label_is_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="workspace_id"):
        build_request(model="kimi-k2.6", api="openai", content=[PROMPT], region="cn-beijing", workspace_id=bad)


def test_unknown_region_lists_the_regions() -> None:
    with pytest.raises(UsageError) as exc:
        build_request(model="kimi-k2.6", api="openai", content=[PROMPT], region="us-west-1")
    message = str(exc.value)
    assert "'us-west-1'" in message
    for name in ("us-east-1 (US (Virginia))", "eu-central-1", "ap-southeast-1", "ap-northeast-1", "cn-beijing", "cn-hongkong"):
        assert name in message


def test_unknown_api_lists_the_apis() -> None:
    with pytest.raises(UsageError, match=r"api 'anthropic' is not one of openai, dashscope"):
        build_request(model="kimi-k2.6", api="anthropic", content=[PROMPT], workspace_id=WS)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"api 'anthropic' is not one of openai, dashscope"):
        endpoint(api="anthropic", workspace_id=WS)  # type: ignore[arg-type]


def test_unknown_model_lists_the_models() -> None:
    with pytest.raises(UsageError) as exc:
        build_request(model="kimi-k3", api="openai", content=[PROMPT], workspace_id=WS)
    message = str(exc.value)
    assert "'kimi-k3'" in message
    for name in ("kimi-k2.7-code", "kimi-k2.6", "kimi-k2.5", "kimi-k2-thinking", "Moonshot-Kimi-K2-Instruct", "'kimi/'"):
        assert name in message
    with pytest.raises(UsageError):
        resolve_model("kimi/kimi-k3")
    with pytest.raises(UsageError):
        resolve_model("KIMI-K2.6")  # ids are case-sensitive, as the service's are


# ---- kimi/ prefix ---------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_kimi_prefixed_ids_are_accepted_and_sent_as_given(api: str) -> None:
    req = build_request(model="kimi/kimi-k2.7-code", api=api, content=[image_part(IMG_URL, api), PROMPT], workspace_id=WS)  # type: ignore[arg-type]
    assert req.body["model"] == "kimi/kimi-k2.7-code"
    assert req.violations == ()
    # the rules of kimi-k2.7-code apply: thinking on by default, its sampling defaults
    assert params_of(req) == {"enable_thinking": True, "temperature": 1.0, "top_p": 0.95, "presence_penalty": 0.0}
    assert resolve_model("kimi/kimi-k2.7-code").name == "kimi-k2.7-code"
    bad = build_request(model="kimi/kimi-k2.7-code", api=api, content=[PROMPT], workspace_id=WS, enable_thinking=False)  # type: ignore[arg-type]
    assert [v.code for v in bad.violations] == ["request.thinking_always_on"]
    assert bad.violations[0].message == "model kimi/kimi-k2.7-code always thinks; enable_thinking=false is refused"


# ---- model rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["kimi-k2-thinking", "Moonshot-Kimi-K2-Instruct"])
@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_retired_models_are_a_violation_naming_date_and_replacements(model: str, api: str) -> None:
    req = build_request(model=model, api=api, content=[PROMPT], workspace_id=WS)  # type: ignore[arg-type]
    assert [v.code for v in req.violations] == ["request.model_retired"]
    v = req.violations[0]
    assert v.severity == "error"
    assert v.field == "model" and v.observed == model and v.limit == "2026-07-09"
    assert v.message == f"model {model} was retired on 2026-07-09; use qwen3.7-plus, qwen3.7-max or qwen3.6-flash"
    assert not req.ok
    with pytest.raises(RequestError) as exc:
        req.raise_for_violations()
    assert isinstance(exc.value, UsageError) and isinstance(exc.value, ValueError)
    assert exc.value.violations == req.violations
    assert v.message in str(exc.value)


@pytest.mark.parametrize("model", ["kimi-k2-thinking", "Moonshot-Kimi-K2-Instruct"])
@pytest.mark.parametrize(
    ("api", "part"),
    [
        ("openai", image_part(IMG_URL, "openai")),
        ("dashscope", image_part(IMG_URL, "dashscope")),
        ("openai", video_part(VID_URL, "openai", fps=2)),
        ("dashscope", image_list_part(FRAMES, "dashscope", fps=2)),
    ],
)
def test_media_for_a_text_only_model_is_a_violation(model: str, api: str, part: dict[str, Any]) -> None:
    req = build_request(model=model, api=api, content=[part, PROMPT], workspace_id=WS)  # type: ignore[arg-type]
    assert [v.code for v in req.violations] == ["request.model_retired", "request.model_text_only"]
    v = req.violations[1]
    assert v.field == "content" and v.observed == model
    assert v.message == f"model {model} takes text only; media needs kimi-k2.7-code, kimi-k2.6 or kimi-k2.5"
    if api == "dashscope":
        # media goes to the multimodal path whatever the model; the content stays a list of parts
        assert req.url.endswith(MM)
        assert isinstance(user_content(req), list)
    with pytest.raises(RequestError) as exc:
        req.raise_for_violations()
    text = str(exc.value)
    assert "2 problem(s)" in text and "retired on 2026-07-09" in text and "takes text only" in text


def test_media_in_an_earlier_turn_counts_too() -> None:
    history = [{"role": "user", "content": [image_part(IMG_URL, "dashscope")]}, {"role": "assistant", "content": [{"text": "a dog"}]}]
    req = build_request(model="Moonshot-Kimi-K2-Instruct", api="dashscope", content=["and now?"], messages=history, workspace_id=WS)
    assert "request.model_text_only" in [v.code for v in req.violations]
    assert req.url.endswith(MM)


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_thinking_cannot_be_disabled_for_k27_code(api: str) -> None:
    req = build_request(model="kimi-k2.7-code", api=api, content=[PROMPT], workspace_id=WS, enable_thinking=False)  # type: ignore[arg-type]
    assert [v.code for v in req.violations] == ["request.thinking_always_on"]
    v = req.violations[0]
    assert v.field == "enable_thinking" and v.observed == "kimi-k2.7-code"
    assert params_of(req)["enable_thinking"] is False  # written as asked, reported, never silently changed
    with pytest.raises(RequestError, match="kimi-k2.7-code always thinks"):
        req.raise_for_violations()
    on = build_request(model="kimi-k2.7-code", api=api, content=[PROMPT], workspace_id=WS, enable_thinking=True)  # type: ignore[arg-type]
    assert on.violations == () and on.raise_for_violations() is on


def test_thinking_only_retired_model_refuses_false_too() -> None:
    req = build_request(model="kimi-k2-thinking", api="openai", content=[PROMPT], workspace_id=WS, enable_thinking=False)
    assert [v.code for v in req.violations] == ["request.model_retired", "request.thinking_always_on"]


@pytest.mark.parametrize("model", ["kimi-k2.6", "kimi-k2.5"])
@pytest.mark.parametrize("thinking", [True, False, None])
def test_hybrid_models_accept_either_thinking_mode(model: str, thinking: bool | None) -> None:
    req = build_request(model=model, api="openai", content=[image_part(IMG_URL, "openai"), PROMPT], workspace_id=WS, enable_thinking=thinking)
    assert req.violations == () and req.ok


# ---- defaults -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "thinking", "expected"),
    [
        ("kimi-k2.7-code", None, {"enable_thinking": True, "temperature": 1.0, "top_p": 0.95, "presence_penalty": 0.0}),
        ("kimi-k2.6", None, {"enable_thinking": False, "temperature": 0.6, "top_p": 0.95, "presence_penalty": 0.0}),
        ("kimi-k2.6", True, {"enable_thinking": True, "temperature": 1.0, "top_p": 0.95, "presence_penalty": 0.0}),
        ("kimi-k2.6", False, {"enable_thinking": False, "temperature": 0.6, "top_p": 0.95, "presence_penalty": 0.0}),
        ("kimi-k2.5", None, {"enable_thinking": False, "temperature": 0.6, "top_p": 0.95, "presence_penalty": 0.0}),
        ("kimi-k2.5", True, {"enable_thinking": True, "temperature": 1.0, "top_p": 0.95, "presence_penalty": 0.0}),
        ("kimi-k2-thinking", None, {"temperature": 1.0}),
        ("Moonshot-Kimi-K2-Instruct", None, {"temperature": 0.6, "top_p": 1.0, "presence_penalty": 0.0}),
    ],
)
@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_spec_defaults_by_model_and_thinking_mode(model: str, thinking: bool | None, expected: dict[str, Any], api: str) -> None:
    req = build_request(model=model, api=api, content=[PROMPT], workspace_id=WS, enable_thinking=thinking)  # type: ignore[arg-type]
    assert params_of(req) == expected


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_defaults_fill_only_what_the_caller_left_unset(api: str) -> None:
    req = build_request(
        model="kimi-k2.6", api=api, content=[PROMPT], workspace_id=WS, enable_thinking=True, temperature=0.3, top_p=None, max_tokens=512  # type: ignore[arg-type]
    )
    # the caller's temperature wins; top_p=None counts as unset; presence_penalty filled; max_tokens passed on
    assert params_of(req) == {"enable_thinking": True, "temperature": 0.3, "top_p": 0.95, "presence_penalty": 0.0, "max_tokens": 512}
    zero = build_request(model="kimi-k2.6", api=api, content=[PROMPT], workspace_id=WS, temperature=0, presence_penalty=1.5)  # type: ignore[arg-type]
    assert params_of(zero)["temperature"] == 0 and params_of(zero)["presence_penalty"] == 1.5  # falsy values are set values


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_apply_defaults_false_writes_only_enable_thinking(api: str) -> None:
    req = build_request(model="kimi-k2.6", api=api, content=[PROMPT], workspace_id=WS, apply_defaults=False)  # type: ignore[arg-type]
    assert params_of(req) == {"enable_thinking": False}
    req = build_request(model="Moonshot-Kimi-K2-Instruct", api=api, content=[PROMPT], workspace_id=WS, apply_defaults=False)  # type: ignore[arg-type]
    assert params_of(req) == {}


@pytest.mark.parametrize("api", ["openai", "dashscope"])
@pytest.mark.parametrize("name", ["fps", "max_frames"])
def test_fps_and_max_frames_stay_on_the_parts(api: str, name: str) -> None:
    with pytest.raises(UsageError, match="belong on the video parts"):
        build_request(model="kimi-k2.6", api=api, content=[PROMPT], workspace_id=WS, **{name: 2})  # type: ignore[arg-type]


# ---- body shapes (SPEC §4, the seed's curl examples) ----------------------------------------

OPENAI_SHAPES = [
    ("image URL", image_part(IMG_URL, "openai"), {"type": "image_url", "image_url": {"url": IMG_URL}}),
    ("image data URL", image_part(IMG_DATA, "openai"), {"type": "image_url", "image_url": {"url": IMG_DATA}}),
    ("video URL, fps", video_part(VID_URL, "openai", fps=2), {"type": "video_url", "video_url": {"url": VID_URL}, "fps": 2}),
    ("video data URL", video_part(VID_DATA, "openai", fps=0.5), {"type": "video_url", "video_url": {"url": VID_DATA}, "fps": 0.5}),
    ("image list, fps", image_list_part(FRAMES, "openai", fps=2), {"type": "video", "video": FRAMES, "fps": 2}),
    ("text", PROMPT, {"type": "text", "text": PROMPT}),
]
DASHSCOPE_SHAPES = [
    ("image URL", image_part(IMG_URL, "dashscope"), {"image": IMG_URL}),
    ("image data URL", image_part(IMG_DATA, "dashscope"), {"image": IMG_DATA}),
    ("video URL, fps", video_part(VID_URL, "dashscope", fps=2), {"video": VID_URL, "fps": 2}),
    ("video data URL", video_part(VID_DATA, "dashscope", fps=0.5, max_frames=100), {"video": VID_DATA, "fps": 0.5, "max_frames": 100}),
    ("image list, fps", image_list_part(FRAMES, "dashscope", fps=2), {"video": FRAMES, "fps": 2}),
    ("text", PROMPT, {"text": PROMPT}),
]


@pytest.mark.parametrize(("kind", "item", "expected_part"), OPENAI_SHAPES, ids=[s[0] for s in OPENAI_SHAPES])
def test_openai_body_shape(kind: str, item: Any, expected_part: dict[str, Any]) -> None:
    req = build_request(model="kimi-k2.6", api="openai", content=[item], region="cn-beijing", workspace_id=WS, temperature=0.6)
    assert req.url == f"https://{WS}.cn-beijing.maas.aliyuncs.com/compatible-mode/v1/chat/completions"
    assert req.body == {
        "model": "kimi-k2.6",
        "messages": [{"role": "user", "content": [expected_part]}],
        "enable_thinking": False,
        "temperature": 0.6,
        "top_p": 0.95,
        "presence_penalty": 0.0,
    }
    assert list(req.body)[:3] == ["model", "messages", "enable_thinking"]  # enable_thinking top level
    assert req.headers == {"Content-Type": "application/json"}
    json.dumps(req.body)  # serialisable as is


@pytest.mark.parametrize(("kind", "item", "expected_part"), DASHSCOPE_SHAPES, ids=[s[0] for s in DASHSCOPE_SHAPES])
def test_dashscope_body_shape(kind: str, item: Any, expected_part: dict[str, Any]) -> None:
    req = build_request(model="kimi-k2.6", api="dashscope", content=[item], region="cn-beijing", workspace_id=WS, enable_thinking=True)
    # every kind, text included, goes to the multimodal endpoint for a multimodal model
    assert req.url == f"https://{WS}.cn-beijing.maas.aliyuncs.com/api/v1/services/aigc/multimodal-generation/generation"
    assert req.body == {
        "model": "kimi-k2.6",
        "input": {"messages": [{"role": "user", "content": [expected_part]}]},
        "parameters": {"enable_thinking": True, "temperature": 1.0, "top_p": 0.95, "presence_penalty": 0.0},
    }
    assert req.headers == {"Content-Type": "application/json"}
    json.dumps(req.body)


def test_seed_multimodal_curl_example_is_reproduced() -> None:
    """The seed's DashScope curl for thinking mode with an image URL, plus explicit defaults."""
    req = build_request(
        model="kimi-k2.6",
        api="dashscope",
        content=["What scene is depicted in the image?", image_part(IMG_URL, "dashscope")],
        region="cn-beijing",
        workspace_id=WS,
        enable_thinking=True,
        apply_defaults=False,
    )
    assert req.to_json() == {
        "url": f"https://{WS}.cn-beijing.maas.aliyuncs.com/api/v1/services/aigc/multimodal-generation/generation",
        "body": {
            "model": "kimi-k2.6",
            "input": {"messages": [{"role": "user", "content": [{"text": "What scene is depicted in the image?"}, {"image": IMG_URL}]}]},
            "parameters": {"enable_thinking": True},
        },
    }


def test_mixed_content_keeps_its_order() -> None:
    content: list[Any] = [image_part(IMG_URL, "openai"), video_part(VID_URL, "openai", fps=1), PROMPT]
    req = build_request(model="kimi-k2.5", api="openai", content=content, workspace_id=WS)
    assert user_content(req) == [
        {"type": "image_url", "image_url": {"url": IMG_URL}},
        {"type": "video_url", "video_url": {"url": VID_URL}, "fps": 1},
        {"type": "text", "text": PROMPT},
    ]


# ---- text vs multimodal endpoints -----------------------------------------------------------


@pytest.mark.parametrize("model", ["kimi-k2.7-code", "kimi-k2.6", "kimi-k2.5", "kimi/kimi-k2.7-code"])
def test_dashscope_text_only_content_for_a_vision_model_uses_the_multimodal_path(model: str) -> None:
    req = build_request(model=model, api="dashscope", content=["Who are you?"], region="us-east-1")
    assert req.url == f"https://dashscope-us.aliyuncs.com/api/v1/{MM}"
    assert user_content(req) == [{"text": "Who are you?"}]


@pytest.mark.parametrize("model", ["kimi-k2-thinking", "Moonshot-Kimi-K2-Instruct"])
def test_dashscope_text_model_uses_the_text_path_with_string_content(model: str) -> None:
    req = build_request(model=model, api="dashscope", content=["Who are you?", "Answer briefly."], region="us-east-1")
    assert req.url == f"https://dashscope-us.aliyuncs.com/api/v1/{TG}"
    assert user_content(req) == "Who are you?\nAnswer briefly."
    # a richer text part is not flattened
    rich = build_request(model=model, api="dashscope", content=[{"text": "x", "cache_control": {"type": "ephemeral"}}], region="us-east-1")
    assert user_content(rich) == [{"text": "x", "cache_control": {"type": "ephemeral"}}]
    # the OpenAI-compatible API keeps text parts
    oa = build_request(model=model, api="openai", content=["Who are you?"], region="us-east-1")
    assert user_content(oa) == [{"type": "text", "text": "Who are you?"}]


# ---- messages, copying, streaming, misuse ---------------------------------------------------


def test_messages_are_appended_to_a_copy() -> None:
    history: list[dict[str, Any]] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        {"role": "assistant", "content": "Hello."},
    ]
    snapshot = json.loads(json.dumps(history))
    req = build_request(model="kimi-k2.6", api="openai", content=[PROMPT], messages=history, workspace_id=WS)
    assert req.body["messages"] == [*snapshot, {"role": "user", "content": [{"type": "text", "text": PROMPT}]}]
    assert history == snapshot  # the caller's list is unchanged
    req.body["messages"][1]["content"][0]["text"] = "changed"
    assert history[1]["content"][0]["text"] == "Hi"


def test_parts_are_copied_not_aliased() -> None:
    part = image_list_part(FRAMES, "dashscope", fps=2)
    req = build_request(model="kimi-k2.6", api="dashscope", content=[part], workspace_id=WS)
    user_content(req)[0]["video"].append("https://example.com/extra.jpg")
    assert part["video"] == FRAMES and len(part["video"]) == 4


def test_a_lone_string_is_one_text_part() -> None:
    req = build_request(model="kimi-k2.6", api="openai", content="Who are you?", workspace_id=WS)
    assert user_content(req) == [{"type": "text", "text": "Who are you?"}]


def test_stream_openai_is_a_body_field_dashscope_a_header() -> None:
    oa = build_request(model="kimi-k2.6", api="openai", content=[PROMPT], workspace_id=WS, stream=True, apply_defaults=False)
    assert oa.body["stream"] is True and oa.headers == {"Content-Type": "application/json"}
    ds = build_request(
        model="kimi-k2.6", api="dashscope", content=[PROMPT], workspace_id=WS, stream=True, incremental_output=True, apply_defaults=False
    )
    # issue 11 (5), on purpose: streaming DashScope bodies also say result_format "message", as the page's samples do
    assert ds.body["parameters"] == {"enable_thinking": False, "incremental_output": True, "result_format": "message"}
    assert ds.headers == {"Content-Type": "application/json", "Accept": "text/event-stream", "X-DashScope-SSE": "enable"}
    off = build_request(model="kimi-k2.6", api="dashscope", content=[PROMPT], workspace_id=WS, stream=False, apply_defaults=False)
    assert "stream" not in off.body["parameters"] and off.headers == {"Content-Type": "application/json"}


def test_no_credentials_and_no_payload_in_repr() -> None:
    big = "data:image/png;base64," + "A" * 5000
    req = build_request(model="kimi-k2.6", api="openai", content=[image_part(big, "openai"), PROMPT], workspace_id=WS)
    assert "Authorization" not in req.headers and set(req.headers) == {"Content-Type"}
    text = repr(req)
    assert "AAAA" not in text and len(text) < 300
    assert "kimi-k2.6" in text and "2 part(s)" in text and "violations: none" in text
    assert req.method == "POST"
    assert set(req.to_json()) == {"url", "body"}


@pytest.mark.parametrize(
    ("api", "part"),
    [("openai", {"image": IMG_DATA}), ("dashscope", {"type": "image_url", "image_url": {"url": IMG_DATA}})],
)
def test_a_part_in_the_other_dialect_is_a_usage_error(api: str, part: dict[str, Any]) -> None:
    with pytest.raises(UsageError) as exc:
        build_request(model="kimi-k2.6", api=api, content=[PROMPT, part], workspace_id=WS)  # type: ignore[arg-type]
    message = str(exc.value)
    assert "content[1]" in message and "base64" not in message  # names the keys, never the payload


def test_empty_or_odd_content_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="content is empty"):
        build_request(model="kimi-k2.6", api="openai", content=[], workspace_id=WS)
    with pytest.raises(UsageError, match=r"content\[0\] is a int"):
        build_request(model="kimi-k2.6", api="openai", content=[3], workspace_id=WS)  # type: ignore[list-item]
    with pytest.raises(UsageError, match=r"messages\[0\]"):
        build_request(model="kimi-k2.6", api="openai", content=[PROMPT], messages=[{"content": "x"}], workspace_id=WS)


def test_text_part_helper_matches_plain_strings() -> None:
    for api in ("openai", "dashscope"):
        a = build_request(model="kimi-k2.6", api=api, content=[PROMPT], workspace_id=WS)  # type: ignore[arg-type]
        b = build_request(model="kimi-k2.6", api=api, content=[text_part(PROMPT, api)], workspace_id=WS)  # type: ignore[arg-type]
        assert a.body == b.body


# ==== issue 11: the request half ===========================================================
# New names are read through the module (`rq.…`) so that, on the old code, each test fails on its
# own instead of the whole file failing to import.

from mediaprep import request as rq  # noqa: E402
from mediaprep.models import Output, Prepared, Report, Size, TokenEstimate, Violation  # noqa: E402
from mediaprep.tokens import estimate_frames, estimate_image, estimate_text  # noqa: E402

LONG_PATH = "file:///home/images/" + "deeply/nested/" * 12 + "test.png"


def _prepared(parts: list[dict[str, Any]], sizes: list[tuple[int, int]], *, kind: str = "image", estimate: int = 999, source: str = "in.png") -> Prepared:
    report = Report(source=source, kind=kind, status="ok", estimate=TokenEstimate(tokens=estimate, basis="check"))  # type: ignore[arg-type]
    outputs = tuple(Output(format="JPEG", mime="image/jpeg", width_px=w, height_px=h, size_bytes=1) for w, h in sizes)
    return Prepared(source=source, report=report, status="ready", outputs=outputs, parts=tuple(parts))


# ---- 1. file:// only through the DashScope SDKs ---------------------------------------------


def test_file_parts_are_refused_over_http_and_allowed_for_the_dashscope_sdk() -> None:
    content: list[Any] = [
        image_part("file:///home/images/test.png", "dashscope"),
        video_part("file:///home/videos/clip.mp4", "dashscope", fps=2),
        image_list_part([f"file:///home/frames/f{i}.jpg" for i in range(4)], "dashscope", fps=2),
        image_part(IMG_URL, "dashscope"),
        PROMPT,
    ]
    req = build_request(model="kimi-k2.6", api="dashscope", content=content, region="us-east-1")
    found = [v for v in req.violations if v.code == "request.file_path_over_http"]
    assert len(found) == 3  # image, video file, image list (one per part); the https image is fine
    assert [v.observed for v in found] == ["file:///home/images/test.png", "file:///home/videos/clip.mp4", "file:///home/frames/f0.jpg (and 3 more)"]
    assert all(v.severity == "error" and v.message.startswith("request: file:///") for v in found)
    assert [v.field for v in found] == ["messages[0].content[0]", "messages[0].content[1]", "messages[0].content[2]"]
    assert not req.ok
    with pytest.raises(RequestError, match="file:// path"):
        req.raise_for_violations()  # the HTTP form
    with pytest.raises(RequestError):
        req.raise_for_violations("http")
    # the DashScope SDK form may carry them
    assert req.violations_for("dashscope_sdk") == ()
    assert req.raise_for_violations("dashscope_sdk") is req
    assert req.violations_for("http") == req.violations
    kwargs = req.dashscope_kwargs()
    assert kwargs["messages"][0]["content"][0] == {"image": "file:///home/images/test.png"}
    with pytest.raises(UsageError, match="openai_sdk"):
        req.violations_for("openai_sdk")  # a DashScope request has no OpenAI SDK form


def test_a_file_path_is_shortened_in_the_violation() -> None:
    req = build_request(model="kimi-k2.6", api="dashscope", content=[image_part(LONG_PATH, "dashscope")], region="us-east-1")
    (v,) = req.violations
    assert v.code == "request.file_path_over_http"
    assert len(v.observed) <= 80 and v.observed.startswith("file:///home/images/") and v.observed.endswith("test.png")
    assert "…" in v.observed and LONG_PATH not in v.message


def test_a_hand_made_openai_part_with_a_file_path_is_a_violation_too() -> None:
    part = {"type": "image_url", "image_url": {"url": "file:///home/images/test.png"}}
    req = build_request(model="kimi-k2.6", api="openai", content=[part, PROMPT], region="us-east-1")
    assert [v.code for v in req.violations] == ["request.file_path_over_http"]
    assert req.violations_for("openai_sdk") == req.violations  # the OpenAI SDK sends JSON over HTTP too
    with pytest.raises(UsageError, match="dashscope_sdk"):
        req.violations_for("dashscope_sdk")


def test_the_part_helpers_refuse_file_paths_for_openai_with_a_usage_error() -> None:
    with pytest.raises(UsageError, match="file://"):
        image_part("file:///a.png", "openai")
    with pytest.raises(UsageError, match="file://"):
        video_part("file:///a.mp4", "openai", fps=2)
    with pytest.raises(UsageError, match="file://"):
        image_list_part(["https://x/1.jpg", "file:///2.jpg", "https://x/3.jpg", "https://x/4.jpg"], "openai", fps=2)


# ---- parts: what the helpers build is validated ----------------------------------------------


@pytest.mark.parametrize("fps", [0.05, 10.5, 0, -1, float("nan")])
def test_part_helpers_refuse_fps_outside_the_limits(fps: float) -> None:
    for api in ("openai", "dashscope"):
        with pytest.raises(UsageError, match=r"fps .* is outside \[0.1, 10\]"):
            video_part(VID_URL, api, fps=fps)  # type: ignore[arg-type]
        with pytest.raises(UsageError, match=r"fps .* is outside \[0.1, 10\]"):
            image_list_part(FRAMES, api, fps=fps)  # type: ignore[arg-type]


def test_part_helpers_accept_the_fps_bounds() -> None:
    assert video_part(VID_URL, "openai", fps=0.1)["fps"] == 0.1
    assert image_list_part(FRAMES, "dashscope", fps=10)["fps"] == 10


def test_max_frames_only_for_dashscope_and_in_range() -> None:
    with pytest.raises(UsageError, match="DashScope field"):
        video_part(VID_URL, "openai", fps=2, max_frames=100)
    for bad in (0, 2001, -5):
        with pytest.raises(UsageError, match=r"max_frames .* is outside \[1, 2000\]"):
            video_part(VID_URL, "dashscope", fps=2, max_frames=bad)
    assert video_part(VID_URL, "dashscope", fps=2, max_frames=2000)["max_frames"] == 2000


def test_image_list_too_long_is_refused_by_the_helper() -> None:
    with pytest.raises(UsageError, match="more than 2000"):
        image_list_part([IMG_URL] * 2001, "openai", fps=2)


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_build_request_refuses_parts_that_break_the_part_rules(api: str) -> None:
    short = {"type": "video", "video": FRAMES[:3], "fps": 2} if api == "openai" else {"video": FRAMES[:3], "fps": 2}
    with pytest.raises(UsageError, match=r"content\[0\]: an image list of 3 frame\(s\) is fewer than 4"):
        build_request(model="kimi-k2.6", api=api, content=[short], region="us-east-1")  # type: ignore[arg-type]
    fast = {"type": "video_url", "video_url": {"url": VID_URL}, "fps": 30} if api == "openai" else {"video": VID_URL, "fps": 30}
    with pytest.raises(UsageError, match=r"content\[1\]: fps 30 is outside"):
        build_request(model="kimi-k2.6", api=api, content=[PROMPT, fast], region="us-east-1")  # type: ignore[arg-type]
    capped = {"type": "video_url", "video_url": {"url": VID_URL}, "fps": 2, "max_frames": 10} if api == "openai" else {"video": FRAMES, "fps": 2, "max_frames": 10}
    with pytest.raises(UsageError, match="max_frames belongs only on a DashScope video-file part"):
        build_request(model="kimi-k2.6", api=api, content=[capped], region="us-east-1")  # type: ignore[arg-type]


# ---- 2. thinking for a model without thinking -----------------------------------------------


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_enable_thinking_true_for_a_model_without_thinking_is_a_violation(api: str) -> None:
    req = build_request(model="Moonshot-Kimi-K2-Instruct", api=api, content=[PROMPT], region="us-east-1", enable_thinking=True)  # type: ignore[arg-type]
    assert [v.code for v in req.violations] == ["request.model_retired", "request.thinking_unsupported"]
    v = req.violations[1]
    assert v.severity == "error" and v.field == "enable_thinking" and v.observed == "Moonshot-Kimi-K2-Instruct"
    assert v.message == "model Moonshot-Kimi-K2-Instruct has no thinking mode; enable_thinking=true is refused (leave it unset)"
    assert params_of(req)["enable_thinking"] is True  # written as asked
    for thinking in (False, None):
        other = build_request(model="Moonshot-Kimi-K2-Instruct", api=api, content=[PROMPT], region="us-east-1", enable_thinking=thinking)  # type: ignore[arg-type]
        assert [v.code for v in other.violations] == ["request.model_retired"]


# ---- 3. the token total ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "thinking", "limit"),
    [
        ("kimi-k2.6", None, 260_096),
        ("kimi-k2.6", False, 260_096),
        ("kimi-k2.6", True, 258_048),
        ("kimi-k2.5", True, 258_048),
        ("kimi-k2.7-code", None, 258_048),
        ("Moonshot-Kimi-K2-Instruct", None, 131_072),
        ("kimi-k2-thinking", None, 229_376),
    ],
)
def test_the_text_total_is_checked_against_the_model_input_limit(model: str, thinking: bool | None, limit: int) -> None:
    at_limit = "x" * (2 * limit)  # estimate_text: 2 characters a token
    fits = build_request(model=model, api="openai", content=[at_limit], region="us-east-1", enable_thinking=thinking)
    assert "request.over_token_limit" not in [v.code for v in fits.violations]
    assert isinstance(fits.estimate, TokenEstimate) and fits.estimate.tokens == limit
    over = build_request(model=model, api="openai", content=[at_limit, "y"], region="us-east-1", enable_thinking=thinking)
    (v,) = [v for v in over.violations if v.code == "request.over_token_limit"]
    assert v.observed == limit + 1 and v.limit == limit and v.severity == "error"
    assert v.message == f"request: about {limit + 1} tokens (an estimate) is over the {limit}-token budget"


def test_media_tokens_come_from_prepared_items_and_plain_parts_count_zero() -> None:
    image = _prepared([image_part(IMG_URL, "openai")], [(1920, 1080)])
    tiles = _prepared([image_part(IMG_URL, "openai"), image_part(IMG_DATA, "openai")], [(1500, 12), (1500, 12)], source="pano.png")
    frames = _prepared([image_list_part(FRAMES, "openai", fps=2)], [(640, 360)] * 4, kind="video", source="clip.mp4")
    video = _prepared([video_part(VID_URL, "openai", fps=2)], [(1280, 720)], kind="video", estimate=4321, source="talk.mp4")
    assert rq.prepared_tokens(image) == estimate_image(Size(1920, 1080)).tokens == 2695
    assert rq.prepared_tokens(tiles) == 2 * estimate_image(Size(1500, 12)).tokens
    assert rq.prepared_tokens(frames) == estimate_frames(Size(640, 360), 4).tokens
    assert rq.prepared_tokens(video) == 4321  # a video file: the check's estimate
    media = sum(rq.prepared_tokens(p) for p in (image, tiles, frames, video))
    req = build_request(model="kimi-k2.6", api="openai", content=[image, tiles, frames, video, image_part(IMG_URL, "openai"), PROMPT], region="us-east-1")
    assert req.estimate is not None and req.estimate.tokens == media + estimate_text(PROMPT).tokens
    assert req.uncounted_parts == 1
    assert "1 media part(s) given as plain dicts" in req.estimate_basis and "4 prepared input(s)" in req.estimate_basis
    # the caller may stand in for the plain parts
    more = build_request(model="kimi-k2.6", api="openai", content=[image_part(IMG_URL, "openai"), PROMPT], region="us-east-1", media_tokens=500)
    assert more.estimate is not None and more.estimate.tokens == 500 + estimate_text(PROMPT).tokens
    assert "media 500 given as media_tokens" in more.estimate_basis


def test_media_and_text_together_can_go_over() -> None:
    video = _prepared([video_part(VID_URL, "openai", fps=2)], [(1280, 720)], kind="video", estimate=260_000, source="talk.mp4")
    ok = build_request(model="kimi-k2.6", api="openai", content=[video, "x" * 190], region="us-east-1")
    assert ok.violations == () and ok.estimate is not None and ok.estimate.tokens == 260_095
    over = build_request(model="kimi-k2.6", api="openai", content=[video, "x" * 194], region="us-east-1")
    assert [v.code for v in over.violations] == ["request.over_token_limit"] and over.violations[0].observed == 260_097
    thinking = build_request(model="kimi-k2.6", api="openai", content=[video, "x" * 190], region="us-east-1", enable_thinking=True)
    assert [v.limit for v in thinking.violations] == [258_048]


# ---- 4. Prepared objects in content ---------------------------------------------------------


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_a_ready_prepared_brings_all_its_parts(api: str) -> None:
    tiles = [image_part(IMG_URL, api), image_part(IMG_DATA, api)]  # type: ignore[arg-type]
    ready = _prepared(tiles, [(1500, 12), (1500, 12)], source="pano.png")
    req = build_request(model="kimi-k2.6", api=api, content=[ready, PROMPT], region="us-east-1")  # type: ignore[arg-type]
    assert user_content(req) == [*tiles, text_part(PROMPT, api)]  # type: ignore[arg-type]
    user_content(req)[0].clear()
    assert ready.parts[0] == tiles[0]  # copied, not aliased


def test_a_rejected_prepared_is_a_usage_error_naming_source_and_codes() -> None:
    bad = Violation(code="image.unreadable", severity="error", message="broken.jpg: truncated; the pixels cannot be read")
    warn = Violation(code="image.orientation", severity="warning", message="broken.jpg: orientation")
    report = Report(source="broken.jpg", kind="image", status="rejected", violations=(bad, warn))
    rejected = Prepared(source="broken.jpg", report=report, status="rejected", violations=(bad, warn))
    with pytest.raises(UsageError) as exc:
        build_request(model="kimi-k2.6", api="openai", content=[PROMPT, rejected], region="us-east-1")
    text = str(exc.value)
    assert "content[1] (broken.jpg) was rejected" in text
    assert "image.unreadable: broken.jpg: truncated" in text and "image.orientation" not in text


def test_a_prepared_for_the_other_api_is_a_usage_error() -> None:
    ready = _prepared([image_part(IMG_URL, "dashscope")], [(64, 64)])
    with pytest.raises(UsageError, match=r"content\[0\] \(in.png\) was prepared for api='dashscope'"):
        build_request(model="kimi-k2.6", api="openai", content=[ready], region="us-east-1")


def test_a_split_image_from_prepare_sends_every_tile(tmp_path: Any) -> None:
    import mediaprep as mp
    from media import photo, save

    pano = save(photo(3000, 12), tmp_path / "pano.png", "PNG")
    ready = mp.prepare(pano, policy=mp.Policy(aspect_ratio="split"))
    assert ready.status == "ready" and len(ready.parts) >= 2
    req = build_request(model="kimi-k2.6", api="openai", content=[ready, PROMPT], region="us-east-1")
    assert user_content(req)[:-1] == list(ready.parts)  # `.part` alone would lose the tiles
    assert rq.prepared_tokens(ready) == sum(estimate_image(Size(o.width_px, o.height_px)).tokens for o in ready.outputs)
    assert req.estimate is not None and req.estimate.tokens == rq.prepared_tokens(ready) + estimate_text(PROMPT).tokens
    assert req.uncounted_parts == 0


# ---- 5. streaming ---------------------------------------------------------------------------


def test_streaming_openai_body_asks_for_usage() -> None:
    req = build_request(model="kimi-k2.6", api="openai", content=[PROMPT], region="us-east-1", stream=True)
    assert req.body["stream"] is True and req.body["stream_options"] == {"include_usage": True}
    assert req.stream is True and req.headers == {"Content-Type": "application/json"}
    mine = build_request(model="kimi-k2.6", api="openai", content=[PROMPT], region="us-east-1", stream=True, stream_options={"include_usage": False})
    assert mine.body["stream_options"] == {"include_usage": False}  # the caller's value wins
    plain = build_request(model="kimi-k2.6", api="openai", content=[PROMPT], region="us-east-1")
    assert "stream" not in plain.body and "stream_options" not in plain.body and plain.stream is False


def test_streaming_dashscope_is_headers_plus_message_format_and_incremental_output() -> None:
    req = build_request(model="kimi-k2.6", api="dashscope", content=[image_part(IMG_URL, "dashscope"), PROMPT], region="us-east-1", stream=True)
    assert req.headers == {"Content-Type": "application/json", "Accept": "text/event-stream", "X-DashScope-SSE": "enable"}
    params = req.body["parameters"]
    assert params["result_format"] == "message" and params["incremental_output"] is True and "stream" not in params
    mine = build_request(model="kimi-k2.6", api="dashscope", content=[PROMPT], region="us-east-1", stream=True, incremental_output=False)
    assert mine.body["parameters"]["incremental_output"] is False
    # without streaming the body is as before: the page's multimodal samples send no result_format
    plain = build_request(model="kimi-k2.6", api="dashscope", content=[PROMPT], region="us-east-1", apply_defaults=False)
    assert plain.body["parameters"] == {"enable_thinking": False} and plain.headers == {"Content-Type": "application/json"}


# ---- 6. the forms each client takes ---------------------------------------------------------


def test_http_form_is_url_headers_body_without_credentials() -> None:
    req = build_request(model="kimi-k2.6", api="dashscope", content=[PROMPT], region="cn-beijing", workspace_id=WS, stream=True)
    url, headers, body = req.http()
    assert url == req.url and body is req.body and headers == req.headers and headers is not req.headers
    assert "Authorization" not in headers
    assert req.http().json is req.body


@pytest.mark.parametrize(("region", "openai_url", "ds_mm_url", "ds_text_url"), ENDPOINTS)
def test_base_url_is_what_the_sdk_clients_are_built_with(region: str, openai_url: str, ds_mm_url: str, ds_text_url: str) -> None:
    oa = build_request(model="kimi-k2.6", api="openai", content=[PROMPT], region=region, workspace_id=WS)
    assert oa.base_url == openai_url.removesuffix("/chat/completions")
    assert oa.base_url.endswith("/compatible-mode/v1")
    ds = build_request(model="kimi-k2.6", api="dashscope", content=[PROMPT], region=region, workspace_id=WS)
    assert ds.base_url == ds_mm_url.removesuffix("/" + MM) and ds.base_url.endswith("/api/v1")
    text = build_request(model="kimi-k2-thinking", api="dashscope", content=[PROMPT], region=region, workspace_id=WS)
    assert text.base_url == ds.base_url


def test_openai_kwargs_put_non_standard_fields_in_extra_body() -> None:
    req = build_request(model="kimi-k2.6", api="openai", content=[PROMPT], region="us-east-1", enable_thinking=True, preserve_thinking=True, max_tokens=64, stream=True)
    kwargs = req.openai_kwargs()
    assert kwargs["extra_body"] == {"enable_thinking": True, "preserve_thinking": True}
    assert {k: v for k, v in kwargs.items() if k != "extra_body"} == {
        "model": "kimi-k2.6",
        "messages": req.body["messages"],
        "temperature": 1.0,
        "top_p": 0.95,
        "presence_penalty": 0.0,
        "max_tokens": 64,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert {**{k: v for k, v in kwargs.items() if k != "extra_body"}, **kwargs["extra_body"]} == req.body
    assert set(rq.OPENAI_CREATE_PARAMS) >= {"model", "messages", "temperature", "top_p", "presence_penalty", "max_tokens", "stream", "stream_options", "tools"}
    assert "enable_thinking" not in rq.OPENAI_CREATE_PARAMS
    plain = build_request(model="Moonshot-Kimi-K2-Instruct", api="openai", content=[PROMPT], region="us-east-1")
    assert "extra_body" not in plain.openai_kwargs()
    with pytest.raises(UsageError, match="dashscope_kwargs"):
        build_request(model="kimi-k2.6", api="dashscope", content=[PROMPT], region="us-east-1").openai_kwargs()


def test_dashscope_kwargs_flatten_the_parameters() -> None:
    req = build_request(model="kimi-k2.6", api="dashscope", content=[PROMPT], region="us-east-1", enable_thinking=True, stream=True)
    assert req.dashscope_kwargs() == {
        "model": "kimi-k2.6",
        "messages": req.body["input"]["messages"],
        "enable_thinking": True,
        "temperature": 1.0,
        "top_p": 0.95,
        "presence_penalty": 0.0,
        "result_format": "message",
        "incremental_output": True,
        "stream": True,
    }
    plain = build_request(model="kimi-k2.6", api="dashscope", content=[PROMPT], region="us-east-1", apply_defaults=False)
    assert plain.dashscope_kwargs() == {"model": "kimi-k2.6", "messages": plain.body["input"]["messages"], "enable_thinking": False}
    with pytest.raises(UsageError, match="openai_kwargs"):
        build_request(model="kimi-k2.6", api="openai", content=[PROMPT], region="us-east-1").dashscope_kwargs()


def test_an_unknown_form_is_a_usage_error() -> None:
    req = build_request(model="kimi-k2.6", api="openai", content=[PROMPT], region="us-east-1")
    with pytest.raises(UsageError, match="form 'grpc' is not one of http, openai_sdk, dashscope_sdk"):
        req.violations_for("grpc")  # type: ignore[arg-type]


# ---- request_violations: the rules for an existing body -------------------------------------


def test_request_violations_reads_either_dialect() -> None:
    oa_body = {"model": "Moonshot-Kimi-K2-Instruct", "messages": [{"role": "user", "content": "hi"}], "enable_thinking": True}
    assert [v.code for v in rq.request_violations(oa_body, api="openai")] == ["request.model_retired", "request.thinking_unsupported"]
    sdk_kwargs = {"model": "kimi-k2.7-code", "messages": [{"role": "user", "content": "hi"}], "extra_body": {"enable_thinking": False}}
    assert [v.code for v in rq.request_violations(sdk_kwargs, api="openai", form="openai_sdk")] == ["request.thinking_always_on"]
    ds_body = {
        "model": "kimi-k2.6",
        "input": {"messages": [{"role": "user", "content": [{"image": "file:///a.png"}, {"text": "x" * 100}]}]},
        "parameters": {"enable_thinking": True},
    }
    assert [v.code for v in rq.request_violations(ds_body, api="dashscope")] == ["request.file_path_over_http"]
    assert rq.request_violations(ds_body, api="dashscope", form="dashscope_sdk") == []
    # media_tokens + the text (50) against the thinking limit, read from `parameters`
    assert rq.request_violations(ds_body, api="dashscope", form="dashscope_sdk", media_tokens=258_048 - 50) == []
    (over,) = rq.request_violations(ds_body, api="dashscope", form="dashscope_sdk", media_tokens=258_048 - 49)
    assert over.code == "request.over_token_limit" and over.observed == 258_049 and over.limit == 258_048
    with pytest.raises(UsageError, match="no 'model'"):
        rq.request_violations({"messages": []}, api="openai")


def test_build_request_and_request_violations_agree() -> None:
    content: list[Any] = [image_part("file:///x.png", "dashscope"), "x" * 300]
    req = build_request(model="kimi-k2.6", api="dashscope", content=content, region="us-east-1", media_tokens=260_000)
    assert list(req.violations) == rq.request_violations(req.body, api="dashscope", media_tokens=260_000)
    assert [v.code for v in req.violations] == ["request.file_path_over_http", "request.over_token_limit"]
    assert [v.code for v in req.violations_for("dashscope_sdk")] == ["request.over_token_limit"]
