"""Annotating archives on a cluster: ``livecam annotate --engine ray`` runs the
same per-video code as the local engine on a pool of Ray actors, one task per
video, with retries when a worker dies and resumption of interrupted jobs.
Ray is imported only when used (``pip install "livecam[ray]"``)."""

from livecam.cluster.jobs import AnnotateJob, VideoResult, VideoTask, plan_tasks
from livecam.cluster.ray_annotate import annotate_on_ray

__all__ = ["AnnotateJob", "VideoResult", "VideoTask", "annotate_on_ray", "plan_tasks"]
