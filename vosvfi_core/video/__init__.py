"""Videos in and out: video files (PyAV) and frame folders as sources and sinks, and the streaming interpolation between them."""

from vosvfi_core.video.encoding import DEFAULT_CODECS, DEFAULT_CRF, VIDEO_CONTAINERS, EncoderSettings, encoder_settings, is_video_path
from vosvfi_core.video.rates import factor_for_rate, parse_rate
from vosvfi_core.video.scenes import DEFAULT_SCENE_THRESHOLD, SceneCut
from vosvfi_core.video.sinks import FrameFolderSink, FrameSink, VideoFileSink
from vosvfi_core.video.sources import DEFAULT_FOLDER_FPS, Frame, FrameFolderSource, FrameSource, VideoFileSource, open_source
from vosvfi_core.video.stream import StreamResult, interpolate_stream, output_frame_count

__all__ = [
    "DEFAULT_CODECS",
    "DEFAULT_CRF",
    "DEFAULT_FOLDER_FPS",
    "DEFAULT_SCENE_THRESHOLD",
    "VIDEO_CONTAINERS",
    "EncoderSettings",
    "Frame",
    "FrameFolderSink",
    "FrameFolderSource",
    "FrameSink",
    "FrameSource",
    "SceneCut",
    "StreamResult",
    "VideoFileSink",
    "VideoFileSource",
    "encoder_settings",
    "factor_for_rate",
    "interpolate_stream",
    "is_video_path",
    "open_source",
    "output_frame_count",
    "parse_rate",
]
