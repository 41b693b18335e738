"""Which networks a benchmark or an export uses: shipped names, files, or random weights.

``NAME-random`` (e.g. ``paper-random``, ``compact-random``) builds the networks of
config/models/NAME.yaml with seeded random weights: the speed of an architecture does not
depend on its weights, so it can be measured before trained weights exist.
"""
from pathlib import Path
from typing import Optional, Tuple

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..core.checkpoint import save_checkpoint
from ..core.config import load_model_yaml
from ..core.estimator import HandPoseEstimator
from ..core.exported import ExportedNet
from ..core.nets.localizer import Localizer
from ..core.nets.pose_net import PoseNet
from ..core.resources import find_resource
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


def build_estimator(model: str, localizer: Optional[str] = 'default',
                    **kwargs) -> HandPoseEstimator:
    """An estimator for ``model`` (a shipped name, a file, or NAME-random); kwargs go to it.

    For NAME-random, ``localizer`` 'default' means the config's random localizer. int8 is
    calibrated on synthetic renders unless ``calibration`` is given.
    """
    if kwargs.get('calibration') is None:
        kwargs['calibration'] = int8_calibration(kwargs.get('precision', 'auto'))
    if model.endswith(RANDOM_SUFFIX):
        pose, loc = random_networks(model[:-len(RANDOM_SUFFIX)])
        est = HandPoseEstimator(pose, None if localizer in (None, '', 'none') else loc,
                                **kwargs)
        est.model_path, est.localizer_path = None, None
        return est
    return HandPoseEstimator.from_files(model, localizer, **kwargs)


def model_files(est: HandPoseEstimator, folder: Path) -> Tuple[Path, Optional[Path]]:
    """Files holding the estimator's networks (random ones are saved into ``folder``)."""
    pose_path = getattr(est, 'model_path', None)
    if pose_path is not None:
        return Path(pose_path), getattr(est, 'localizer_path', None)
    pose_path = folder / 'pose.pt'
    save_checkpoint(pose_path, est.model, est.model.config)
    loc_path = None
    if est.localizer is not None:
        loc_path = folder / 'localizer.pt'
        save_checkpoint(loc_path, est.localizer, est.localizer.config)
    return pose_path, loc_path


def network_stats(net) -> dict:
    """FLOPs per frame (torch.utils.flop_counter, batch 1) and parameters of one network.

    Exported networks are counted on a PoseNet/Localizer rebuilt from their stored config
    (the cost depends on the architecture only).
    """
    if isinstance(net, ExportedNet):
        net = (PoseNet if net.kind == 'pose' else Localizer)(net.config).eval()
    s = net.config.input_size
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(torch.zeros(1, 1, s, s, device=next(net.parameters()).device))
    return {'gflops': counter.get_total_flops() / 1e9,
            'params': int(sum(p.numel() for p in net.parameters())),
            'input_size': s}
