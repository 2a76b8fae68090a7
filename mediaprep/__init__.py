"""mediaprep: pre-flight images for Kimi vision models on Alibaba Cloud Model Studio.

    import mediaprep as mp
    info   = mp.probe("IMG_0042.heic")                               # header only
    report = mp.check("IMG_0042.heic", target=mp.Target(model="kimi-k2.6", api="openai"))
    ready  = mp.prepare("IMG_0042.heic", target=mp.Target(), out_dir="out")   # .part .outputs .actions

Everything importable from here is the public surface; other modules may change.
"""

from .codes import CODES
from .errors import MediaprepError, ProbeError, SourceError, TargetError, UsageError
from .models import Action, ExtractedFrame, ImageInfo, Output, Policy, Prepared, Report, Size, Source, Target, TokenEstimate, Transfer, VideoInfo, Violation
from .parts import image_list_part, image_part, text_part, video_part
from .pipeline import FrameExtraction, check, extract_frames, prepare, probe
from .remote import RemoteOptions
from .request import BuiltRequest, RequestError, build_request
from .rules import DEFAULT_LIMITS, MODELS, REGIONS, Limits, ModelInfo, Region
from .tokens import TokenConstants, estimate_frames, estimate_image

__version__ = "0.1.0"

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
    "build_request",
    "check",
    "estimate_frames",
    "estimate_image",
    "extract_frames",
    "image_list_part",
    "image_part",
    "prepare",
    "probe",
    "text_part",
    "video_part",
    "__version__",
]
