"""CamCallback: where a model looks while it trains, read back from the
TensorBoard event files it writes, on tiny models trained in the test on
scenes whose answer is known (tests/scenes.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from scenes import NAMES, Scene, single_disc_scenes

SIZE = 32
# The shortcut: a small patch in the top-left corner whose colour gives the
# label, in colours no disc has (BGR: yellow, magenta, cyan)
PATCH_COLOURS = ((0, 220, 220), (220, 0, 220), (220, 220, 0))
PATCH = 8  # px


def rgb(scenes: list[Scene]) -> np.ndarray:
    return np.stack([s.image[..., ::-1] for s in scenes])


def disc_box(scene: Scene) -> tuple[float, float, float, float]:
    disc = scene.discs[0]
    return (disc.x - disc.radius, disc.y - disc.radius, disc.x + disc.radius, disc.y + disc.radius)


def shortcut_scenes(count: int, seed: int) -> tuple[list[Scene], np.ndarray]:
    """Discs of random colours, away from the corner; the label is the colour
    of the corner patch, independent of the disc."""
    rng = np.random.default_rng(seed)
    kept, labels = [], []
    for scene in single_disc_scenes(count * 2, seed):
        if min(disc_box(scene)[2:]) > PATCH + 2 and len(kept) < count:
            label = int(rng.integers(len(PATCH_COLOURS)))
            scene.image[:PATCH, :PATCH] = PATCH_COLOURS[label]
            kept.append(scene)
            labels.append(label)
    return kept, np.array(labels)


def watching_discs(shown: list[Scene], log_dir, **options):
    """A CamCallback on scenes of one disc: each explained as its disc's colour
    (the true label), the disc's box for the in-box scalars."""
    from livecam.keras import CamCallback

    return CamCallback(
        rgb(shown),
        log_dir,
        classes=[s.discs[0].colour for s in shown],
        boxes=[disc_box(s) for s in shown],
        labels=NAMES,
        **options,
    )


def tiny_cnn():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="last_conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(len(NAMES), activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def events(log_dir) -> dict[str, dict[int, np.ndarray]]:
    """Every summary in ``log_dir``, read back by TensorBoard's event reader:
    tag -> step -> value (tf.summary writes scalars and images as tensors)."""
    import tensorflow as tf

    reader = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    reader.Reload()
    return {
        tag: {event.step: tf.make_ndarray(event.tensor_proto) for event in reader.Tensors(tag)}
        for tag in reader.Tags()["tensors"]
    }


def decoded(image_summary: np.ndarray) -> np.ndarray:
    """An image summary's [width, height, png] as BGR pixels."""
    return cv2.imdecode(np.frombuffer(image_summary[2], np.uint8), cv2.IMREAD_COLOR)


@pytest.fixture(scope="module")
def honest_run(tmp_path_factory):
    """A tiny CNN learning the disc's colour, watched for 4 epochs."""
    train = single_disc_scenes(1500, seed=21)
    shown = single_disc_scenes(12, seed=22)
    log_dir = tmp_path_factory.mktemp("honest")
    videos = tmp_path_factory.mktemp("videos")
    watch = watching_discs(shown, log_dir, video_dir=videos)
    model = tiny_cnn()
    labels = np.array([s.discs[0].colour for s in train])
    model.fit(rgb(train), labels, batch_size=64, epochs=4, verbose=0, callbacks=[watch])
    return watch, events(log_dir), videos, shown


def test_the_overlays_reach_tensorboard_per_image_and_epoch(honest_run):
    watch, summaries, _, shown = honest_run
    for index, scene in enumerate(shown):
        steps = summaries[f"cam/image_{index}/{NAMES[scene.discs[0].colour]}"]
        assert sorted(steps) == [0, 1, 2, 3, 4]  # before training, then each epoch
        image = decoded(steps[4])
        assert image.shape == (160, 160, 3)  # enlarged from 32 px
    assert watch._explainer.engine.trace_count == 1  # reads new weights, never retraces


def test_the_in_box_scalars_rise_as_the_model_learns_to_look_at_the_disc(honest_run):
    watch, summaries, *_ = honest_run
    pointing = {step: float(v) for step, v in summaries["cam/pointing"].items()}
    energy = {step: float(v) for step, v in summaries["cam/energy_in_box"].items()}
    assert sorted(energy) == [0, 1, 2, 3, 4]
    assert pointing[4] >= 0.9, pointing
    assert energy[4] > energy[0] + 0.15, energy
    assert [round(r["energy_in_box"], 6) for r in watch.history] == [
        round(energy[step], 6) for step in range(5)
    ]


def test_one_video_per_image_shows_its_map_across_epochs(honest_run):
    from livecam.media.sinks import readable_frames

    _, summaries, videos, shown = honest_run
    assert sorted(p.name for p in videos.iterdir()) == sorted(
        f"cam_image_{i}.mp4" for i in range(12)
    )
    assert readable_frames(videos / "cam_image_0.mp4") == 5  # one frame per explained step
    capture = cv2.VideoCapture(str(videos / "cam_image_0.mp4"))
    try:
        frames = [capture.read()[1] for _ in range(5)]
    finally:
        capture.release()
    # the video's last frame is the last overlay sent to TensorBoard (lossy codec)
    first = summaries[f"cam/image_0/{NAMES[shown[0].discs[0].colour]}"]
    assert np.abs(frames[4].astype(int) - decoded(first[4])).mean() < 6
    assert np.abs(frames[4].astype(int) - frames[0].astype(int)).mean() > 6  # the map moved


def test_top_classes_a_fixed_class_and_masks(tmp_path):
    """Without classes, each image's top 2 at the time, tagged by class; one
    class for every image; and masks instead of boxes for the scalars."""
    from livecam.keras import CamCallback

    train = single_disc_scenes(1500, seed=27)
    shown = single_disc_scenes(8, seed=28)
    images = rgb(shown)
    masks = [s.mask > 0 for s in shown]
    ranked = CamCallback(images, tmp_path, top=2, masks=masks, labels=NAMES, tag="top")
    fixed = CamCallback(images, tmp_path, classes=0, labels=NAMES, tag="fixed")
    model = tiny_cnn()
    labels = np.array([s.discs[0].colour for s in train])
    model.fit(rgb(train), labels, batch_size=64, epochs=4, verbose=0, callbacks=[ranked, fixed])
    summaries = events(tmp_path)
    predicted = model.predict(images, verbose=0)
    for index in range(len(shown)):
        at_the_end = {
            tag.rsplit("/", 1)[1]
            for tag, steps in summaries.items()
            if tag.startswith(f"top/image_{index}/") and 4 in steps
        }
        assert at_the_end == {NAMES[c] for c in np.argsort(-predicted[index])[:2]}
        fixed_tags = [t for t in summaries if t.startswith(f"fixed/image_{index}/")]
        assert fixed_tags == [f"fixed/image_{index}/red"]
    # the top-1 is the disc's colour once trained: its map is on the disc's pixels
    assert float(summaries["top/pointing"][4]) >= 0.9
    assert float(summaries["top/energy_in_box"][4]) > float(summaries["top/energy_in_box"][0])
    assert "fixed/pointing" not in summaries  # no boxes, no masks: no scalars


def test_classes_that_share_a_name_keep_tags_of_their_own(tmp_path):
    from livecam.keras import CamCallback

    shown = single_disc_scenes(2, seed=29)
    watch = CamCallback(rgb(shown), tmp_path, top=3, labels=["disc", "disc", "blue"])
    model = tiny_cnn()
    model.fit(rgb(shown), np.array([0, 1]), epochs=1, verbose=0, callbacks=[watch])
    tags = {tag for tag in events(tmp_path) if tag.startswith("cam/image_0/")}
    assert tags == {"cam/image_0/disc_0", "cam/image_0/disc_1", "cam/image_0/blue"}


def test_a_shortcut_shows_as_maps_on_the_patch_not_on_the_object(tmp_path):
    """The label comes from a corner patch only: the callback must show the
    model looking at the patch, the failure it exists to reveal."""
    from livecam.keras import CamCallback

    train, labels = shortcut_scenes(1500, seed=23)
    shown, shown_labels = shortcut_scenes(12, seed=24)
    common = {"classes": list(shown_labels), "every": 2}
    on_object = CamCallback(
        rgb(shown), tmp_path, boxes=[disc_box(s) for s in shown], tag="object", **common
    )
    on_patch = CamCallback(
        rgb(shown), tmp_path, boxes=[(0, 0, PATCH, PATCH)] * len(shown), tag="patch", **common
    )
    model = tiny_cnn()
    history = model.fit(
        rgb(train), labels, batch_size=64, epochs=8, verbose=0, callbacks=[on_object, on_patch]
    )
    assert history.history["accuracy"][-1] > 0.95  # the shortcut was learnt
    summaries = events(tmp_path)
    assert sorted(summaries["patch/pointing"]) == [0, 2, 4, 6, 8]  # every 2 epochs
    assert float(summaries["patch/pointing"][8]) >= 0.9
    assert float(summaries["object/pointing"][8]) <= 0.2
    patch_energy = summaries["patch/energy_in_box"]
    assert float(patch_energy[8]) > float(patch_energy[0]) + 0.15  # the model turned to it
    assert float(patch_energy[8]) > float(summaries["object/energy_in_box"][8])


def test_bad_inputs_are_refused_naming_the_values(tmp_path):
    from livecam.keras import CallbackError, CamCallback

    images = np.zeros((3, SIZE, SIZE, 3), np.uint8)
    with pytest.raises(CallbackError, match="2 given for 3 images"):
        CamCallback(images, tmp_path, classes=[0, 1])
    with pytest.raises(CallbackError, match="x1 > x0"):
        CamCallback(images, tmp_path, boxes=[(5, 5, 1, 9)] * 3)
    with pytest.raises(CallbackError, match="float32"):
        CamCallback(images.astype(np.float32), tmp_path)
    with pytest.raises(CallbackError, match="boxes or masks, not both"):
        CamCallback(images, tmp_path, boxes=[(0, 0, 1, 1)] * 3, masks=[images[0, ..., 0] > 0] * 3)
    with pytest.raises(CallbackError, match=r"a mask is \[8, 8\]; the images are 32x32"):
        CamCallback(images, tmp_path, masks=[np.ones((8, 8), bool)] * 3)
    with pytest.raises(CallbackError, match="only without classes"):
        CamCallback(images, tmp_path, classes=[0, 1, 2], top=2)
    model = tiny_cnn()
    wrong_size = CamCallback(np.zeros((3, 40, 40, 3), np.uint8), tmp_path)
    with pytest.raises(CallbackError, match=r"the images are 40x40; model .* takes 32x32"):
        model.fit(images, np.zeros(3), epochs=1, verbose=0, callbacks=[wrong_size])
    no_such_class = CamCallback(images, tmp_path, classes=7)
    with pytest.raises(CallbackError, match="class 7 does not exist: the model has 3"):
        model.fit(images, np.zeros(3), epochs=1, verbose=0, callbacks=[no_such_class])


def test_mixed_bfloat16_training_on_a_tf_data_pipeline(tmp_path):
    """The callback under a mixed_bfloat16 policy and model.fit on a
    tf.data.Dataset: maps still land on the disc."""
    import keras
    import tensorflow as tf

    from livecam.keras import CamCallback

    train = single_disc_scenes(1500, seed=25)
    shown = single_disc_scenes(12, seed=26)
    dataset = tf.data.Dataset.from_tensor_slices(
        (rgb(train), np.array([s.discs[0].colour for s in train]))
    ).batch(64)
    watch = CamCallback(rgb(shown), tmp_path, boxes=[disc_box(s) for s in shown])
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = tiny_cnn()
        model.fit(dataset, epochs=4, verbose=0, callbacks=[watch])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.get_layer("last_conv").compute_dtype == "bfloat16"
    assert [r["step"] for r in watch.history] == [0, 1, 2, 3, 4]
    assert watch.history[-1]["pointing"] >= 0.9, watch.history
    assert watch._explainer.engine.trace_count == 1
