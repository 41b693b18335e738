"""Warm starts: a network's first weights from a trained checkpoint, across joint sets.

A pose network of one joint set starts another's training: every weight that does not depend
on the joints is copied; the per-joint rows (heatmap outputs, depth head) of a joint the
checkpoint also predicts are copied, and a joint it lacks (the wrist, the thumb CMC and the DIP
joints when ICVL16 starts the whole hand) takes the rows of its nearest joint in the hand's
tree (:func:`joint_donors`). The heatmap feedback into the next hourglass reads only the copied
joints at first (the others' columns are zero), so the warm-started trunk sees what it saw.
"""
from dataclasses import replace
import logging
from typing import Callable, Dict, List, Tuple

import torch

from ..core.checkpoint import (load_checkpoint, load_detector, load_localizer,
                               load_side_classifier)
from ..core.config import stored_model_config
from ..core.nets.detector import HandDetector
from ..core.nets.localizer import Localizer
from ..core.nets.pose_net import PoseNet
from ..core.resources import find_resource
from ..core.skeleton import FROM_HAND22, get_joint_set, HAND22, JointSet

LOG = logging.getLogger('hand_pose_ros.train')


def joint_donors(src: JointSet, dst: JointSet) -> List[int]:
    """For each joint of ``dst``, the index of the ``src`` joint that starts it: the same
    joint where ``src`` has it, else its first child that ``src`` has, else its parent's donor.
    Both sets must be selections of the whole hand (core.skeleton.FROM_HAND22)."""
    for s in (src, dst):
        if s.name not in FROM_HAND22:
            raise ValueError(f'warm start: {s.name} is not a selection of the whole hand; '
                             f'known: {sorted(FROM_HAND22)}')
    have = {h: i for i, h in enumerate(FROM_HAND22[src.name])}

    def donor(h: int) -> int:
        if h in have:
            return have[h]
        for child, parent in enumerate(HAND22.parents):
            if parent == h and child in have:
                return have[child]
        if HAND22.parents[h] < 0:
            raise ValueError(f'warm start: no {src.name} joint near {HAND22.joint_names[h]}')
        return donor(HAND22.parents[h])

    return [donor(h) for h in FROM_HAND22[dst.name]]


def _remap(value: torch.Tensor, target: torch.Tensor, donors: List[int], exact: torch.Tensor,
           j_src: int) -> torch.Tensor:
    """``value`` (checkpoint) reshaped to ``target``'s shape along its joint axis."""
    j_dst = len(donors)
    idx = torch.tensor(donors)
    if value.shape[0] == j_src and target.shape[0] == j_dst:               # per-joint outputs
        return value[idx].clone()
    if value.shape[0] == 3 * j_src and target.shape[0] == 3 * j_dst:       # plain: (J x 3)
        return value.view(j_src, 3, *value.shape[1:])[idx].reshape(target.shape).clone()
    if value.ndim > 1 and value.shape[1] == j_src and target.shape[1] == j_dst:  # feedback
        out = value[:, idx].clone()
        out[:, ~exact] = 0
        return out
    raise ValueError(f'warm start: cannot map a {tuple(value.shape)} tensor to '
                     f'{tuple(target.shape)}')


def warm_start_pose(net: PoseNet, path: str) -> Dict[str, str]:
    """Load checkpoint ``path`` (or a name under models/) into ``net`` as described above;
    returns {'from': path, 'joints': 'a -> b'}. ValueError when the structures differ."""
    ckpt = load_checkpoint(_resolve(path), kind='pose')
    cfg = stored_model_config(ckpt['config'])
    mine = net.config
    for key in ('variant', 'width', 'stacks', 'input_size', 'heatmap_size', 'hourglass_depth'):
        if getattr(cfg, key) != getattr(mine, key):
            raise ValueError(f'warm start from {path}: its {key} is {getattr(cfg, key)!r}, the '
                             f'network being trained has {getattr(mine, key)!r}')
    if mine.variant == 'attention' and cfg.attention_mask != mine.attention_mask:
        LOG.warning('warm start from a network with the %s attention mask into one with the %s '
                    'mask: the depth branch must adapt to what the new mask lets through',
                    cfg.attention_mask, mine.attention_mask)
    if cfg.handedness != mine.handedness:
        LOG.warning('warm start from a %s-hand network into a %s-hand one: it must unlearn '
                    'the side', cfg.handedness, mine.handedness)
    src, dst = get_joint_set(cfg.joint_set), get_joint_set(mine.joint_set)
    donors = joint_donors(src, dst)
    exact = torch.tensor([FROM_HAND22[dst.name][i] in FROM_HAND22[src.name]
                          for i in range(dst.num_joints)])
    own = net.state_dict()
    state = {}
    for name, value in ckpt['state_dict'].items():
        target = own[name]
        value = value.to(target.dtype)
        state[name] = value if value.shape == target.shape else \
            _remap(value, target, donors, exact, src.num_joints)
    net.load_state_dict(state, strict=True)
    LOG.info('pose net warm-started from %s (%s -> %s joints)', path, src.name, dst.name)
    return {'from': str(path), 'joints': f'{src.name} -> {dst.name}'}


def warm_start_localizer(net: Localizer, path: str) -> Dict[str, str]:
    """Load a localizer checkpoint (same config) into ``net``."""
    return _warm_start_same_config(net, path, load_localizer, 'localizer')


# Detector settings no weight depends on: a checkpoint trained at another sampled focal length
# (or heat target width) starts a detector that differs only in them; a narrower one starts a
# wider detector (widen_detector).
DETECTOR_RETRAINABLE = ('focal_px', 'sigma_mm')


def _concat_inputs(width_old: int, width_new: int) -> Dict[str, List[Tuple[int, int]]]:
    """(old, new) channel counts of the parts of each detector layer input that concatenates
    two levels (nets/detector.py: up8 reads [s8, s16 up], up4 reads [s4, u8 up])."""
    level4, level2 = (4 * width_old, 4 * width_new), (2 * width_old, 2 * width_new)
    return {'up8.conv1.0': [level4, level4], 'up8.shortcut.0': [level4, level4],
            'up4.0': [level2, level4]}


def _old_channels(parts: List[Tuple[int, int]]) -> torch.Tensor:
    """Where the old channels of a concatenation of ``parts`` ((old, new) counts) sit in the
    new one."""
    index, offset = [], 0
    for old, new in parts:
        index += range(offset, offset + old)
        offset += new
    return torch.tensor(index)


def widen_detector(old: HandDetector, wide: HandDetector) -> None:
    """Give the wider detector ``wide`` the function of ``old`` (in place): every old weight
    in its place, every new channel silent at first (the batch norms of new channels scale by
    0, and old outputs read no new input), so training starts where ``old`` stands and grows
    into the new channels (their own weights are random; a silent channel's scale still gets
    gradient through them)."""
    concat = _concat_inputs(old.config.width, wide.config.width)
    old_modules = dict(old.named_modules())
    with torch.no_grad():
        for name, module in wide.named_modules():
            small = old_modules.get(name)
            if isinstance(module, torch.nn.BatchNorm2d):
                n = small.num_features
                module.weight[n:] = 0.0
                module.bias[n:] = 0.0
                for attr in ('weight', 'bias', 'running_mean', 'running_var'):
                    getattr(module, attr)[:n] = getattr(small, attr)
                module.num_batches_tracked.copy_(small.num_batches_tracked)
            elif isinstance(module, torch.nn.Conv2d):
                out_n, in_n = small.weight.shape[:2]
                cols = _old_channels(concat.get(name, [(in_n, module.in_channels)]))
                module.weight[:out_n] = 0.0          # old outputs read only old inputs
                module.weight[:out_n, cols] = small.weight
                if module.bias is not None:
                    module.bias[:out_n] = small.bias


def warm_start_detector(net: HandDetector, path: str) -> Dict[str, str]:
    """Load a hand-detector checkpoint into ``net``: a longer run continues a shipped detector
    with a fresh schedule, or retrains it at another sampled focal length (DETECTOR_RETRAINABLE
    may differ) or wider (a larger ``width``: widen_detector); every other setting must be the
    checkpoint's."""
    loaded, cfg, _ = load_detector(_resolve(path))
    same = {k: getattr(net.config, k) for k in DETECTOR_RETRAINABLE + ('width',)}
    if replace(cfg, **same) != net.config or cfg.width > net.config.width:
        raise ValueError(f'warm start from {path}: its detector config {cfg} differs from '
                         f'{net.config} in more than {", ".join(DETECTOR_RETRAINABLE)} and a '
                         'larger width')
    if cfg.width == net.config.width:
        net.load_state_dict(loaded.state_dict(), strict=True)
    else:
        widen_detector(loaded, net)
    changed = {k: f'{getattr(cfg, k)} -> {v}' for k, v in same.items() if getattr(cfg, k) != v}
    LOG.info('detector warm-started from %s%s', path,
             ''.join(f'; {k} {v}' for k, v in changed.items()))
    return {'from': str(path), **changed}


def warm_start_side(net: torch.nn.Module, path: str) -> Dict[str, str]:
    """Load a left/right classifier checkpoint (same config) into ``net``: a longer run
    continues a trained classifier with a fresh schedule."""
    return _warm_start_same_config(net, path, load_side_classifier, 'side classifier')


def _warm_start_same_config(net: torch.nn.Module, path: str, load: Callable,
                            what: str) -> Dict[str, str]:
    """Every weight of the ``what`` checkpoint at ``path`` (read by ``load``) into ``net``,
    whose config must be the checkpoint's."""
    loaded, cfg, _ = load(_resolve(path))
    if cfg != net.config:
        raise ValueError(f'warm start from {path}: its {what} config {cfg} differs from '
                         f'{net.config}')
    net.load_state_dict(loaded.state_dict(), strict=True)
    LOG.info('%s warm-started from %s', what, path)
    return {'from': str(path)}


def _resolve(path: str) -> str:
    """A path as given, else a shipped file under models/."""
    from pathlib import Path
    return str(path) if Path(path).is_file() else str(find_resource(f'models/{path}'))
