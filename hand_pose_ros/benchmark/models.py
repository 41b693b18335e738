"""Which networks a benchmark or an export uses: shipped names, files, or random weights.

``NAME-random`` (e.g. ``paper-random``, ``compact-random``) builds the networks of
config/models/NAME.yaml with seeded random weights, and ``--detector random`` a hand detector
of the default DetectorConfig: the speed of an architecture does not depend on its weights,
so it can be measured before trained weights exist.
"""
from pathlib import Path
from typing import Optional, Tuple

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..core.checkpoint import save_checkpoint
from ..core.config import DetectorConfig, load_model_yaml
from ..core.estimator import HandPoseEstimator, load_hand_detector
from ..core.exported import example_input, ExportedNet, kind_of
from ..core.nets.detector import HandDetector
from ..core.nets.localizer import Localizer
from ..core.nets.pose_net import PoseNet
from ..core.resources import find_resource, resolve_detector_file
from ..synthetic.calibration import int8_calibration

RANDOM_SUFFIX = '-random'


def random_networks(name: str, seed: int = 0) -> Tuple[PoseNet, Localizer]:
    """Seeded random-weight networks of config/models/NAME.yaml (eval mode)."""
    try:
        path = find_resource(f'config/models/{name}.yaml')
    except FileNotFoundError:
        raise FileNotFoundError(f'no model config {name!r}: expected config/models/{name}.yaml '
                                f'(e.g. paper{RANDOM_SUFFIX}, compact{RANDOM_SUFFIX})') from None
    pose_cfg, loc_cfg = load_model_yaml(path)
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return PoseNet(pose_cfg).eval(), Localizer(loc_cfg).eval()
    finally:
        torch.random.set_rng_state(gen_state)


def random_detector(seed: int = 0) -> HandDetector:
    """A seeded random-weight HandDetector of the default DetectorConfig (eval mode)."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return HandDetector(DetectorConfig()).eval()
    finally:
        torch.random.set_rng_state(gen_state)


def build_estimator(model: str, localizer: Optional[str] = 'default',
                    detector: Optional[str] = 'default', **kwargs) -> HandPoseEstimator:
    """An estimator for ``model`` (a shipped name, a file, or NAME-random); kwargs go to it.

    For NAME-random, ``localizer`` 'default' means the config's random localizer.
    ``detector``: 'default', 'none', 'random' or a path (commands/export_cmd.DETECTOR_HELP;
    ``est.detector_path`` is None for random weights). int8 is calibrated on synthetic
    renders unless ``calibration`` is given.
    """
    if kwargs.get('calibration') is None:
        kwargs['calibration'] = int8_calibration(kwargs.get('precision', 'auto'))
    if detector == 'random':
        kwargs['hand_detector'] = random_detector()
    if not model.endswith(RANDOM_SUFFIX):
        return HandPoseEstimator.from_files(model, localizer, detector_model=detector, **kwargs)
    det_path = None if detector == 'random' else resolve_detector_file(model, detector)
    if det_path is not None:
        kwargs['hand_detector'] = load_hand_detector(det_path)
    pose, loc = random_networks(model[:-len(RANDOM_SUFFIX)])
    est = HandPoseEstimator(pose, None if localizer in (None, '', 'none') else loc, **kwargs)
    est.model_path, est.localizer_path, est.detector_path = None, None, det_path
    return est


def model_files(est: HandPoseEstimator, folder: Path) -> Tuple[Path, Optional[Path]]:
    """(pose, localizer) files that give the node the estimator's networks: random ones are
    saved into ``folder``; with a hand detector the pose file and its companions
    (``<stem>_side.pt`` ...) are linked there as ``pose``, ``pose_side.pt`` ..., with the
    detector beside them as ``pose_detector`` (where ``from_files`` looks)."""
    pose_path = getattr(est, 'model_path', None)
    loc_path = getattr(est, 'localizer_path', None)
    if pose_path is None:
        pose_path = folder / 'pose.pt'
        save_checkpoint(pose_path, est.model, est.model.config)
        if est.localizer is not None:
            loc_path = folder / 'localizer.pt'
            save_checkpoint(loc_path, est.localizer, est.localizer.config)
    det = est.hand_detector
    if det is None:
        return Path(pose_path), loc_path
    if Path(pose_path).parent != folder:
        pose_path = _link_with_companions(Path(pose_path), folder)
    det_path = getattr(est, 'detector_path', None)
    if det_path is not None:
        (folder / f'pose_detector{Path(det_path).suffix}').symlink_to(Path(det_path).resolve())
    else:
        save_checkpoint(folder / 'pose_detector.pt', det, det.config)
    return pose_path, loc_path


def _link_with_companions(pose_path: Path, folder: Path) -> Path:
    """Link ``pose_path`` into ``folder`` as ``pose<suffix>`` and each ``<stem>_<kind>.<ext>``
    beside it (but its detector) as ``pose_<kind>.<ext>``; returns the pose link."""
    link = folder / f'pose{pose_path.suffix}'
    link.symlink_to(pose_path.resolve())
    for companion in pose_path.parent.glob(f'{pose_path.stem}_*'):
        kind_ext = companion.name[len(pose_path.stem) + 1:]
        if companion.is_file() and not kind_ext.startswith('detector.'):
            (folder / f'pose_{kind_ext}').symlink_to(companion.resolve())
    return link


def network_stats(net, example: Optional[torch.Tensor] = None) -> dict:
    """FLOPs per frame (torch.utils.flop_counter, batch 1) and parameters of one network.

    ``example``: its input (default: its crop; for the detector, exported.DETECTOR_EXAMPLE_HW).
    ``input_size`` is the crop edge, or [H, W] for the detector. Exported networks are counted
    on a module rebuilt from their stored config (the cost depends on the architecture only).
    """
    if isinstance(net, ExportedNet):
        net = {'pose': PoseNet, 'localizer': Localizer,
               'detector': HandDetector}[net.kind](net.config).eval()
    kind = kind_of(net)
    x = example_input(kind, net.config) if example is None else example
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(x.to(next(net.parameters()).device))
    return {'gflops': counter.get_total_flops() / 1e9,
            'params': int(sum(p.numel() for p in net.parameters())),
            'input_size': list(x.shape[2:]) if kind == 'detector' else x.shape[-1]}
