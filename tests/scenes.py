"""Synthetic scenes whose answer is known: coloured discs on textured noise.

A scene's class is the colour of its disc; the disc sits at a random place,
so a map that means something must find it there. The same seed gives the
same scenes every run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# BGR, well apart from each other and from the grey noise
COLOURS = {"red": (40, 40, 230), "green": (40, 200, 40), "blue": (230, 60, 40)}
NAMES = list(COLOURS)


@dataclass(frozen=True)
class Disc:
    colour: int  # index into NAMES
    x: float
    y: float
    radius: float

    def contains(self, x: float, y: float, margin: float = 0.0) -> bool:
        return (x - self.x) ** 2 + (y - self.y) ** 2 <= (self.radius + margin) ** 2


@dataclass
class Scene:
    image: np.ndarray  # BGR uint8
    discs: list[Disc]
    mask: np.ndarray  # int, 0 background, colour + 1 inside a disc

    def disc_of(self, colour: int) -> Disc | None:
        return next((disc for disc in self.discs if disc.colour == colour), None)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    coarse = rng.uniform(60, 190, (size // 4, size // 4, 1))
    noise = np.kron(coarse, np.ones((4, 4, 1))) + rng.normal(0, 18, (size, size, 1))
    return np.repeat(np.clip(noise, 0, 255), 3, axis=2)


def scene(rng: np.random.Generator, colours: list[int], size: int = 32) -> Scene:
    """One disc of each of ``colours``, apart from each other, on textured noise."""
    image = _background(rng, size)
    mask = np.zeros((size, size), np.int32)
    rows, cols = np.mgrid[0:size, 0:size] + 0.5
    discs: list[Disc] = []
    for colour in colours:
        radius = rng.uniform(size * 0.12, size * 0.17)
        for _ in range(100):
            x, y = rng.uniform(radius, size - radius, 2)
            if all((x - d.x) ** 2 + (y - d.y) ** 2 > (radius + d.radius + 2) ** 2 for d in discs):
                break
        disc = Disc(colour, float(x), float(y), float(radius))
        discs.append(disc)
        inside = (cols - x) ** 2 + (rows - y) ** 2 <= radius**2
        shade = rng.uniform(0.85, 1.15)
        image[inside] = np.clip(np.array(COLOURS[NAMES[colour]]) * shade, 0, 255)
        mask[inside] = colour + 1
    return Scene(image.astype(np.uint8), discs, mask)


def single_disc_scenes(count: int, seed: int, size: int = 32) -> list[Scene]:
    """Each scene one disc of a random colour: the class is its colour."""
    rng = np.random.default_rng(seed)
    return [scene(rng, [int(rng.integers(len(NAMES)))], size) for _ in range(count)]


def label_scenes(count: int, seed: int, size: int = 32) -> list[Scene]:
    """Each colour present or not, independently (at least one): multi-label."""
    rng = np.random.default_rng(seed)
    scenes = []
    for _ in range(count):
        present = [c for c in range(len(NAMES)) if rng.random() < 0.5] or [
            int(rng.integers(len(NAMES)))
        ]
        scenes.append(scene(rng, present, size))
    return scenes


def pair_scenes(count: int, seed: int, size: int = 32) -> list[Scene]:
    """Two discs of different colours in each scene."""
    rng = np.random.default_rng(seed)
    return [scene(rng, list(rng.choice(len(NAMES), 2, replace=False)), size) for _ in range(count)]


def rgb_batch(scenes: list[Scene]) -> np.ndarray:
    """The scenes as the RGB floats in [0, 1] the tiny models train on."""
    return np.stack([s.image[..., ::-1] for s in scenes]).astype(np.float32) / 255.0


def peak_on(heatmap: np.ndarray, disc: Disc, size: int) -> bool:
    """Whether the map's peak, upsampled to the scene, lands on the disc: within
    its radius plus half a map cell (the map cannot be sharper than that)."""
    import cv2

    upsampled = cv2.resize(heatmap.astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    y, x = np.unravel_index(int(np.argmax(upsampled)), upsampled.shape)
    cell = size / heatmap.shape[0]
    return disc.contains(x + 0.5, y + 0.5, margin=cell / 2)


def disc_pointing(explanations, scenes: list[Scene], size: int = 32) -> float:
    """The share of single-disc ``scenes`` whose explanation's first map peaks on the disc."""
    hits = [
        peak_on(explanation.targets[0].heatmap, scene.discs[0], size)
        for scene, explanation in zip(scenes, explanations, strict=True)
    ]
    return sum(hits) / len(hits)
