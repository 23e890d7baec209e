"""``livecam serve``: the live overlay in a browser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from livecam.cli import options as opt
from livecam.cli.app import (
    EXIT_ERROR,
    app,
    fail,
    interrupted_exit,
    print_summary,
    reported_errors,
    sigterm_as_interrupt,
)


@app.command()
def serve(
    source: Annotated[
        Optional[str],
        typer.Option(
            help="Camera index, stream URL or video file; without it the page uses the "
            "browser's camera."
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; any but loopback needs a token.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port (0: any free one).", callback=opt.at_least("--port", 0))
    ] = 8000,
    token: Annotated[
        Optional[str],
        typer.Option(help="Access token (generated and printed when needed and not given)."),
    ] = None,
    allow_host: Annotated[
        Optional[list[str]],
        typer.Option(help="Another name browsers reach this server by (Host header); repeatable."),
    ] = None,
    max_clients: Annotated[
        int,
        typer.Option(
            help="Viewers at once; the next gets 503.", callback=opt.at_least("--max-clients", 1)
        ),
    ] = 8,
    fps_target: opt.FpsTarget = None,
    record: opt.Record = None,
    log: opt.Log = None,
    duration: opt.Duration = None,
    reconnect: opt.Reconnect = 0,
    timeout: opt.Timeout = 5.0,
    model: opt.Model = "lite0",
    weights: opt.Weights = "imagenet",
    layer: opt.Layer = None,
    labels: opt.Labels = None,
    method: opt.Method = "gradcam",
    eigen_smooth: opt.EigenSmooth = False,
    aug_smooth: opt.AugSmooth = False,
    max_channels: opt.MaxChannels = None,
    score: opt.Score = "logit",
    top: opt.Top = None,
    class_: opt.Classes = None,
    alpha: opt.Alpha = 0.5,
    colormap: opt.Colormap = "jet",
    input_size: opt.InputSize = None,
    precision: opt.Precision = "float32",
    smooth: opt.Smooth = 0.0,
    follow: opt.Follow = False,
    codec: opt.Codec = None,
    overwrite: opt.Overwrite = False,
) -> None:
    """Serve the live overlay to browsers: a page with the video, the top classes
    and controls (method, class, alpha, colormap, pause, snapshot).

    Without --source the page sends the browser's own camera to the model
    (from a laptop, against a model running elsewhere). Listens on 127.0.0.1
    unless --host says otherwise; any other host needs a token, given with
    --token or generated, and the URL to open is printed. Endpoints:
    /stream.mjpg, /snapshot.jpg, /api/status, /api/control (POST),
    /ws/camera, /healthz.

    Examples:

      livecam serve

      livecam serve --source 0 --fps-target 15

      livecam serve --source rtsp://cam/stream --host 0.0.0.0 --token s3cret --record out.mp4
    """
    from livecam.render import HeatmapRenderer
    from livecam.video import open_source
    from livecam.video.live import ExplainerCache, LiveRunner
    from livecam.web import LiveServer
    from livecam.web.guard import is_loopback, new_token

    with reported_errors(), sigterm_as_interrupt():
        if token is None and not is_loopback(host):
            token = new_token()
        choice = opt.ModelChoice(model, weights, layer, labels, input_size, precision, top, class_)
        inputs = [Path(source)] if source is not None and Path(source).exists() else []
        opt.check_outputs([record, log], inputs, overwrite)
        bundle, wanted = choice.load()
        options = opt.method_options(eigen_smooth, aug_smooth, max_channels, method)
        cache = ExplainerCache(bundle, method, wanted, score, options)
        renderer = HeatmapRenderer(alpha, colormap)
        runner = LiveRunner(cache, renderer, fps_target=fps_target, smooth=smooth, follow=follow)
        frames = open_source(source, timeout, reconnect) if source is not None else None
        try:
            server = LiveServer(
                runner,
                frames,
                host=host,
                port=port,
                token=token,
                allowed_hosts=allow_host or (),
                max_clients=max_clients,
            )
            summary = server.run(
                record=record,
                log_path=log,
                duration=duration,
                codec=codec,
                overwrite=overwrite,
                on_ready=_announce,
            )
        finally:
            if frames is not None:
                frames.close()
        print_summary(summary, "served")
        if summary.interrupted:
            fail("interrupted")
            raise typer.Exit(interrupted_exit())
        if getattr(frames, "lost_reason", None):
            raise typer.Exit(EXIT_ERROR)


def _announce(url: str) -> None:
    typer.echo(f"livecam: serving on {url}  (Ctrl-C to stop)", err=True)
