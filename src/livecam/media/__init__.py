"""Frame I/O: sources (files, image folders, cameras, streams), sinks
(checked, atomic video files; real-time recordings) and whole clips read into
or written from memory (``clips``). Below the models and the loops: the int8
calibration, the benchmarks and the loops all read frames here."""

from livecam.media.clips import load_frames, write_video
from livecam.media.sinks import RealTimeSink, VideoSink, readable_frames
from livecam.media.sources import (
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
    "load_frames",
    "open_source",
    "readable_frames",
    "write_video",
]
