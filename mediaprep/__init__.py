"""mediaprep: pre-flight images and videos for Kimi vision models on Alibaba Cloud Model Studio.

    import mediaprep as mp
    info   = mp.probe("IMG_0042.heic")                               # header only
    report = mp.check("IMG_0042.heic", target=mp.Target(model="kimi-k2.6", api="openai"))
    ready  = mp.prepare("IMG_0042.heic", target=mp.Target(), out_dir="out")   # .part .outputs .actions

Everything importable from here is the public surface; other modules may change. `import mediaprep`
is light: the pipeline (and with it Pillow, PyAV, numpy and httpx) loads on first use of `probe`,
`check`, `prepare`, `extract_frames`, `FrameExtraction` or `RemoteOptions`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The modules `check`, `preflight` and `probe` share their names with public functions: load them
# (all light) first, so that importing them later never rebinds `mediaprep.check` and the others.
from . import check as _check_stage  # noqa: F401
from . import preflight as _preflight_stage  # noqa: F401
from . import probe as _probe_stage  # noqa: F401
from ._version import __version__
from .codes import CODES
from .errors import MediaprepError, ProbeError, SourceError, TargetError, UsageError
from .models import Action, ExtractedFrame, ImageInfo, Output, Policy, Prepared, Report, Size, Source, Target, TokenEstimate, Transfer, VideoInfo, Violation
from .parts import image_list_part, image_part, text_part, video_part
from .request import BuiltRequest, RequestError, build_request
from .rules import DEFAULT_LIMITS, MODELS, REGIONS, Limits, ModelInfo, Region
from .tokens import TokenConstants, estimate_frames, estimate_image

if TYPE_CHECKING:
    from .pipeline import FrameExtraction, acheck, aprepare, check, extract_frames, prepare, probe
    from .preflight import apreflight, preflight
    from .remote import RemoteOptions
else:
    del check, preflight, probe  # the public names are functions (loaded lazily below), not the modules

# name → module that defines it, imported on first access (PEP 562)
_LAZY = {
    "FrameExtraction": "pipeline",
    "acheck": "pipeline",
    "apreflight": "preflight",
    "aprepare": "pipeline",
    "RemoteOptions": "remote",
    "check": "pipeline",
    "extract_frames": "pipeline",
    "preflight": "preflight",
    "prepare": "pipeline",
    "probe": "pipeline",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mediaprep' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Action",
    "BuiltRequest",
    "CODES",
    "DEFAULT_LIMITS",
    "ExtractedFrame",
    "FrameExtraction",
    "ImageInfo",
    "Limits",
    "MODELS",
    "MediaprepError",
    "ModelInfo",
    "Output",
    "Policy",
    "Prepared",
    "ProbeError",
    "REGIONS",
    "Region",
    "RemoteOptions",
    "Report",
    "RequestError",
    "Size",
    "Source",
    "SourceError",
    "Target",
    "TargetError",
    "TokenConstants",
    "TokenEstimate",
    "Transfer",
    "UsageError",
    "VideoInfo",
    "Violation",
    "acheck",
    "apreflight",
    "aprepare",
    "build_request",
    "check",
    "estimate_frames",
    "estimate_image",
    "extract_frames",
    "image_list_part",
    "image_part",
    "preflight",
    "prepare",
    "probe",
    "text_part",
    "video_part",
    "__version__",
]
