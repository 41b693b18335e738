"""Batch-norm statistics of a network trained on batches that are not like its inference input.

The detector's training batches each come from one camera preset (resolution, padding and noise
differ between presets) while inference sees one frame at a time with the running statistics.
On held-out validation scenes the shipped detector's regressed depth was 65-76 mm too far
(median) with its running statistics and far better with each batch's own statistics: the
running averages of the last steps' cameras were not the statistics the weights had learnt
with. Two remedies, used together by training/detector_trainer.py:

- ``recalibrate_batch_norm``: re-estimate the running statistics as the plain average over
  many batches (every camera preset), instead of an exponential average of the last few;
- ``freeze_batch_norm``: train with the running statistics (batch-norm layers in eval mode),
  so training normalises exactly as inference does.
"""
from typing import Iterable

import torch
from torch import nn

_BN = nn.modules.batchnorm._BatchNorm


def batch_norm_layers(model: nn.Module) -> list:
    """The batch-norm layers of ``model``."""
    return [m for m in model.modules() if isinstance(m, _BN)]


def freeze_batch_norm(model: nn.Module) -> int:
    """Put every batch-norm layer of ``model`` in eval mode (running statistics used and kept;
    their affine weights still train); returns how many there are."""
    layers = batch_norm_layers(model)
    for m in layers:
        m.eval()
    return len(layers)


@torch.no_grad()
def recalibrate_batch_norm(model: nn.Module, inputs: Iterable[torch.Tensor]) -> int:
    """Replace the running statistics of every batch-norm layer by their plain average over
    the forward passes of ``inputs`` (each a network input batch); returns the batch count.
    The model's mode and the layers' momentum are restored afterwards."""
    layers = batch_norm_layers(model)
    if not layers:
        raise ValueError('recalibrate_batch_norm: the model has no batch-norm layer')
    was_training = model.training
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None                  # cumulative average over the batches
    model.train()
    count = 0
    try:
        for x in inputs:
            model(x)
            count += 1
    finally:
        for m, mom in zip(layers, momenta):
            m.momentum = mom
        model.train(was_training)
    if count == 0:
        raise ValueError('recalibrate_batch_norm: no input batch given')
    return count
