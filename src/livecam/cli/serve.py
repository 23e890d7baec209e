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
        typer.Option(
            envvar="LIVECAM_TOKEN",
            help="Access token, 16 characters or more (generated and printed when needed and "
            "not given). Prefer the LIVECAM_TOKEN variable: a command line shows in ps.",
        ),
    ] = None,
    tls: Annotated[
        Optional[str],
        typer.Option(
            help="self-signed: serve HTTPS with a certificate made for the bound names on "
            "first use (kept in ~/.config/livecam/tls; its fingerprint is printed).",
            callback=opt.one_of("--tls", ("self-signed",)),
        ),
    ] = None,
    certfile: Annotated[
        Optional[Path], typer.Option(help="Serve HTTPS with this certificate (PEM).")
    ] = None,
    keyfile: Annotated[
        Optional[Path], typer.Option(help="The certificate's private key (PEM).")
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
    runtime: opt.Runtime = "tensorflow",
    calibration: opt.Calibration = None,
    grid: opt.Grid = None,
    skip_tokens: opt.SkipTokens = None,
    threshold: opt.Threshold = None,
    region: opt.Region = None,
    similar_to: opt.SimilarTo = None,
    smooth: opt.Smooth = 0.0,
    follow: opt.Follow = False,
    codec: opt.Codec = None,
    overwrite: opt.Overwrite = False,
) -> None:
    """Serve the live overlay to browsers: a page with the video, the top classes
    and controls (method, class, alpha, colormap, pause, snapshot).

    Without --source the page sends the browser's own camera to the model
    (from a laptop, against a model running elsewhere); browsers allow the
    camera only on localhost or over HTTPS (--tls self-signed, or
    --certfile/--keyfile). Listens on 127.0.0.1 unless --host says otherwise;
    any other host needs a token, given with LIVECAM_TOKEN or --token or
    generated, and the URL to open is printed. Endpoints:
    /stream.mjpg, /snapshot.jpg, /api/status, /api/control (POST),
    /ws/camera, /healthz.

    Examples:

      livecam serve

      livecam serve --source 0 --fps-target 15

      export LIVECAM_TOKEN=$(openssl rand -hex 16)

      livecam serve --source rtsp://cam/stream --host 0.0.0.0 --record out.mp4

      livecam serve --host 0.0.0.0 --tls self-signed
    """
    from livecam.render import HeatmapRenderer
    from livecam.video import open_source
    from livecam.video.live import ExplainerCache, LiveRunner
    from livecam.web import LiveServer
    from livecam.web.guard import check_token, is_loopback, new_token

    with reported_errors(), sigterm_as_interrupt():
        check_token(token)  # before the model loads
        if token is None and not is_loopback(host):
            token = new_token()
        kinds = opt.KindOptions(grid, skip_tokens, threshold, region, similar_to)
        choice = opt.ModelChoice.of(model, weights, layer, labels, input_size, precision,
                                 top, class_, kinds, runtime, calibration)  # fmt: skip
        inputs = [Path(source)] if source is not None and Path(source).exists() else []
        opt.check_outputs([record, log], inputs, overwrite)
        bundle, wanted = choice.load()
        options = opt.method_options(eigen_smooth, aug_smooth, max_channels, method)
        cache = ExplainerCache(bundle, method, wanted, score, options, threshold)
        renderer = HeatmapRenderer(alpha, colormap)
        runner = LiveRunner(
            cache,
            renderer,
            fps_target=fps_target,
            smooth=smooth,
            follow=follow,
            announce=lambda line: typer.echo(line, err=True),
        )
        tls_files = _tls_files(tls, certfile, keyfile, host, allow_host or ())
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
                certfile=tls_files[0],
                keyfile=tls_files[1],
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


def _tls_files(tls, certfile, keyfile, host, allow_host) -> tuple[str | None, str | None]:
    """The certificate and key to serve HTTPS with, or (None, None) for HTTP."""
    from livecam.errors import LivecamError
    from livecam.web import tls as certificates

    if tls is not None and (certfile or keyfile):
        raise LivecamError("give --tls self-signed or --certfile/--keyfile, not both")
    if tls is None:
        return (str(certfile) if certfile else None, str(keyfile) if keyfile else None)
    made = certificates.self_signed(certificates.names_for(host, allow_host))
    typer.echo(
        f"livecam: HTTPS with the self-signed certificate {made.certfile} for "
        f"{', '.join(sorted(made.names))}; SHA-256 fingerprint {made.fingerprint}",
        err=True,
    )
    return made.files


def _announce(url: str) -> None:
    typer.echo(f"livecam: serving on {url}  (Ctrl-C to stop)", err=True)
