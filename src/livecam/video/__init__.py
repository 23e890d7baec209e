"""Video: sources (files, image folders, cameras, streams), sinks (checked,
atomic video files; real-time recordings), and the loops that join them.

``pipeline`` holds what the loops share (output thread, smoothing, summary);
``annotate`` runs every frame of a file, ``live`` runs a camera or stream with
a window (``display``) and a frame-rate ``governor``. Those import TensorFlow;
this package's top level does not.
"""

from livecam.video.sinks import RealTimeSink, VideoSink, readable_frames
from livecam.video.sources import (
    Frame,
    FrameSource,
    ImageFolderSource,
    LiveSource,
    VideoFileSource,
    VideoInfo,
    expand_inputs,
    open_source,
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
