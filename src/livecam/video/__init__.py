"""Video: the loops that join sources and sinks (:mod:`livecam.media`).

``pipeline`` holds what the loops share (output thread, smoothing, summary);
``annotate`` runs every frame of a file, ``live`` runs a camera or stream with
a window (``display``) and the quality control (``quality``, over
:mod:`livecam.tuning`'s governor). Those import TensorFlow; this package's top
level does not. Sources and sinks are re-exported here.
"""

from livecam.media import (
    Frame,
    FrameSource,
    ImageFolderSource,
    LiveSource,
    RealTimeSink,
    VideoFileSource,
    VideoInfo,
    VideoSink,
    expand_inputs,
    open_source,
    readable_frames,
)

__all__ = [
    "Frame",
    "FrameSource",
    "ImageFolderSource",
    "LiveSource",
    "RealTimeSink",
    "VideoFileSource",
    "VideoInfo",
    "VideoSink",
    "expand_inputs",
    "open_source",
    "readable_frames",
]
