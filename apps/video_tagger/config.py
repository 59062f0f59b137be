"""The video tagger's settings: every `train.py` flag, with its reason, and the QUICK and SAMPLE presets.

`Config.resolved()` makes the automatic settings (`--encoder auto`, `--image-size 0`, `--frame-step 0`,
`--clip-frames -1`, `--max-request-frames 0`) concrete for the data at hand; train.py works on the resolved
config, and the export keeps it (assets.extra/config.json), so predict.py reads the frame step it was
trained with. The per-request limits themselves live with the graphs they guard (serve.py).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from apps.video_tagger.encoder import MOTION
from apps.video_tagger.folders import DEFAULT_GROUP_PATTERN
from apps.video_tagger.serve import MAX_FRAMES, MAX_FRAMES_INCEPTION
from apps.video_tagger.ucf101 import is_ucf101_folder
from shared.modeling.cells import CELLS
from shared.runtime.config import TrainConfig, option


@dataclasses.dataclass(frozen=True)
class Config(TrainConfig):
    app: ClassVar[str] = "video_tagger"
    # The generated tags are motion: a small CNN that keeps positions, trained end to end (see encoder.py).
    # Small batches and a larger step: in a 75 s trial (256 videos) the GRU found the motion after ~100
    # steps and reached 0.99 validation frame accuracy after ~290.
    SAMPLE: ClassVar[dict] = {"encoder": "small_cnn", "image_size": 32, "batch_size": 8,
                              "learning_rate": 3e-3, "layers": 1, "epochs": 10}
    QUICK: ClassVar[dict] = {"epochs": 1, "sample_videos": 16, "max_videos": 16, "batch_size": 8, "layers": 1,
                             "units": 8, "feature_dim": 16, "cnn_width": 4, "clip_frames": 6}

    epochs: int = option(20, "Passes over the training videos; the best by validation accuracy is kept.")
    batch_size: int = option(32, "Videos per step, padded to the longest of the batch.")
    encoder: str = option("auto", "Per-frame encoder: inception (pooled ImageNet features, what is in a "
                          "frame), small_cnn (trained end to end, keeps where things are), motion_cnn (small_cnn "
                          "that also sees each frame's difference from the one before: how fast things move), "
                          "difference_cnn (the difference alone); auto: difference_cnn for a DATA_DIR/<action>/ "
                          "folder, inception for UCF101.",
                          choices=("auto", "inception", "small_cnn", *MOTION))
    inception_weights: str = option("imagenet", "imagenet (download), a local weights file, or none "
                                    "(random features: a smoke test only).")
    image_size: int = option(0, "Frame size the encoder sees; 0: 299 for inception, 64 for small_cnn.")
    cnn_width: int = option(16, "Filters of small_cnn's first convolution (then twice that).")
    feature_dim: int = option(128, "small_cnn's per-frame feature size.")
    pooled: bool = option(False, "small_cnn: a 4th convolution, then global average and max pooling (what "
                          "moves, wherever it is) instead of flattening the map (where it is).")
    temporal: str = option("bidirectional", "bidirectional (sees the whole video), causal (only the past: "
                           "streaming) or none (per-frame baseline).",
                           choices=("bidirectional", "causal", "none"))
    cell: str = option("gru", "Recurrent cell.", choices=tuple(CELLS))
    units: int = option(64, "Recurrent units per direction (hidden units of the baseline).")
    layers: int = option(2, "Stacked recurrent layers.")
    dropout: float = option(0.1, "Dropout on the features and before the softmax.")
    sample_videos: int = option(1000, "Generated training videos (--sample); a quarter as many for test.")
    sample_size: int = option(32, "Side of the generated frames in pixels.")
    frame_step: int = option(0, "Real clips: keep every n-th frame; 0: 4 for UCF101 (25 fps: ~6 tags a second), "
                             "2 for a folder (KTH: 12.5 tags a second, enough to see a stride).")
    clip_frames: int = option(-1, "Real clips: at most this many kept frames per clip; 0: all; -1: 16 for UCF101, "
                              "all for a folder.")
    test_groups: int = option(7, "UCF101 groups 1..n are the test set (official split 1: 7).")
    validation_groups: int = option(2, "The next n groups choose the best epoch.")
    group_pattern: str = option(DEFAULT_GROUP_PATTERN, "Folder clips: a regular expression whose first "
                                "group, found in a clip's file name, is its person/group id (split by it).")
    test_people: str | None = option(None, "Folder clips: comma-separated person ids for the test split; "
                                     "default: chosen so that every action has a test clip (folders.py).")
    validation_people: str | None = option(None, "Folder clips: person ids for validation (default: chosen "
                                           "likewise while every action keeps 2 training clips, else none).")
    piece_frames: str = option("16,64", "Folder clips: training videos join 2-4 random pieces of MIN,MAX kept "
                               "frames from training clips, drawn afresh every epoch.")
    augment: bool = option(True, "Folder clips: mirror training videos and change their contrast and brightness "
                           "at random (folders.augment).")
    steps_per_epoch: int = option(0, "Folder clips: steps per epoch (0: about one pass over the training frames, "
                                  "at least 10).")
    max_request_frames: int = option(0, f"Frames per request the export accepts; 0: {MAX_FRAMES} (small CNNs), "
                                     f"{MAX_FRAMES_INCEPTION} for inception.")
    max_videos: int | None = option(None, "Use at most this many videos per split (--quick sets it).")

    def __post_init__(self):
        super().__post_init__()
        if self.image_size and not 16 <= self.image_size <= 1024:
            raise ValueError(f"--image-size must be 0 (auto) or in 16..1024, got {self.image_size}.")
        if self.frame_step < 0 or self.clip_frames < -1:
            raise ValueError("--frame-step must be 0 (auto) or more, --clip-frames -1 (auto) or more.")

    @property
    def size(self) -> int:
        return self.image_size or (299 if self.encoder == "inception" else 64)

    @property
    def motion(self) -> str | None:
        """The motion input of the encoder (encoder.with_motion), or None."""
        return MOTION.get(self.encoder)

    @property
    def data_kind(self) -> str:
        """sample, ucf101 (tensorflow-datasets, or a folder of UCF101-named clips) or folder."""
        if self.sample:
            return "sample"
        if self.data_dir is None or is_ucf101_folder(self.data_dir):
            return "ucf101"
        return "folder"

    def resolved(self) -> Config:
        """The config with every automatic (0 / auto) setting made concrete for its data."""
        folder = self.data_kind == "folder"
        encoder = self.encoder if self.encoder != "auto" else ("difference_cnn" if folder else "inception")
        changes = {"encoder": encoder, "frame_step": self.frame_step or (2 if folder else 4),
                   "clip_frames": self.clip_frames if self.clip_frames >= 0 else (0 if folder else 16)}
        changes["max_request_frames"] = self.max_request_frames or (
            MAX_FRAMES_INCEPTION if encoder == "inception" else MAX_FRAMES)
        config = dataclasses.replace(self, **changes)
        return dataclasses.replace(config, image_size=config.size)
