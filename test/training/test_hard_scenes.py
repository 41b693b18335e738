"""Hard scenes for the detector (training/hard_scenes.py): which frames a detector gets wrong,
their file, and the detector trainer adding a batch of them to every step."""
import pytest
import torch

from hand_pose_ros.core.checkpoint import CheckpointError
from hand_pose_ros.core.config import DetectorConfig
from hand_pose_ros.core.nets.detector import HandDetector
from hand_pose_ros.synthetic.user_scene import UserSceneGenerator
from hand_pose_ros.training.detector_trainer import (DetectorTrainer,
                                                     load_detector_train_config)
from hand_pose_ros.training.hard_scenes import (concat, hard_frames, load_hard_scenes,
                                                mine_hard_scenes, save_hard_scenes, subset)
from test.training.test_small_net_trainers import tiny_detector

DET = DetectorConfig(width=4)


def scenes(n: int, hands, seed: int = 3):
    """``n`` rendered scenes at the detector's sampled resolution, one camera."""
    gen = UserSceneGenerator(DET.focal_px, seed=seed)
    return gen.sample(n, camera=gen.cameras[0], hands=hands,
                      min_hands=0 if hands == 0 else 1)


def detector_scoring(logit: float) -> HandDetector:
    """A detector whose heat map is ``logit`` everywhere (nothing found / peaks anywhere)."""
    net = HandDetector(DET).eval()
    for p in net.parameters():
        p.data.zero_()
    last = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    last.bias.data[0] = logit           # channel 0: heat (core/detection.py split)
    return net


def test_a_frame_is_hard_when_a_seen_hand_is_missed_or_a_detection_is_false():
    with_hands, free = scenes(4, None), scenes(3, 0)
    seen = with_hands.seen.any(1).tolist()
    blind = detector_scoring(-20.0)
    assert hard_frames(blind, with_hands, 0.5) == [i for i, s in enumerate(seen) if s]
    assert hard_frames(blind, free, 0.5) == []         # nothing to find, nothing found
    assert hard_frames(detector_scoring(20.0), free, 0.5) == [0, 1, 2]   # false hands


def test_hard_scenes_keep_their_frames_and_labels_through_their_file(tmp_path):
    b = scenes(4, None)
    part = concat([subset(b, [2]), subset(b, [0, 3])])
    assert torch.equal(part.depth_mm, b.depth_mm[[2, 0, 3]])
    assert torch.equal(part.center_uvd, b.center_uvd[[2, 0, 3]])
    path = tmp_path / 'hard.pt'
    save_hard_scenes(path, {b.camera: part}, {'frames': 4, 'hard': 3})
    [(camera, back)] = load_hard_scenes(path).items()
    assert camera == b.camera and back.intrinsics == b.intrinsics
    for key in ('depth_mm', 'present', 'left', 'hand22', 'center_uvd', 'visible', 'scene'):
        assert torch.equal(getattr(back, key), getattr(part, key)), key
    torch.save({'weights': 1}, tmp_path / 'other.pt')
    with pytest.raises(CheckpointError, match='not a hard-scenes file'):
        load_hard_scenes(tmp_path / 'other.pt')


def test_a_detector_run_trains_on_hard_scenes_beside_fresh_ones(tmp_path):
    cfg = load_detector_train_config(tiny_detector(tmp_path))
    found, counts = mine_hard_scenes(detector_scoring(-20.0), cfg, 2, 0.5)
    assert counts['frames'] == 4 and 0 < counts['hard'] <= 4
    assert sum(b.depth_mm.shape[0] for b in found.values()) == counts['hard']
    save_hard_scenes(tmp_path / 'hard.pt', found, counts)
    hard_cfg = load_detector_train_config(tiny_detector(
        tmp_path, hard_scenes=str(tmp_path / 'hard.pt'), hard_batch=3))
    trainer = DetectorTrainer(hard_cfg, str(tmp_path / 'run'))
    drawn = trainer.draw_hard()
    assert drawn.depth_mm.shape[0] == 3 and drawn.camera in found
    again = DetectorTrainer(hard_cfg, str(tmp_path / 'again')).draw_hard()   # a resume draws
    assert torch.equal(again.depth_mm, drawn.depth_mm)                         # the same
    seen = []
    real_forward = trainer.model.forward
    trainer.model.forward = lambda x: seen.append(x.shape[0]) or real_forward(x)
    trainer.train_step()
    assert seen == [2, 2, 3, 3]        # fresh, mirrored, hard, mirrored
    with pytest.raises(ValueError, match='hard_batch > 0 needs hard_scenes'):
        load_detector_train_config(tiny_detector(tmp_path, hard_batch=3))
