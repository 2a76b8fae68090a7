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
def test_a_region_needing_a_workspace_without_one_is_a_usage_error(region: str, api: str) -> None:
    with pytest.raises(UsageError) as exc:
        build_request(model="kimi-k2.6", api=api, content=[PROMPT], region=region)  # type: ignore[arg-type]
    message = str(exc.value)
    assert f"region {region}" in message and "needs workspace_id" in message
    assert "{WorkspaceId}." + region + ".maas.aliyuncs.com" in message
    # lists both kinds of regions
    assert "regions that need one: eu-central-1, ap-southeast-1, ap-northeast-1, cn-beijing, cn-hongkong" in message
    assert "regions that do not: us-east-1" in message


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
    assert ds.body["parameters"] == {"enable_thinking": False, "incremental_output": True}
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
