"""The whole estimator on held-out user scenes (synthetic/user_scene.py), per viewpoint.

For every scene type (third person, egocentric, robot) and for hand-free frames, on every
camera preset in turn, at the camera's full resolution: hands found (a returned hand whose crop
centre lies within FOUND_WITHIN_MM of the true centre), handedness accuracy of the found hands,
mean joint error (ICVL16, mm) of the found hands, and false hands per frame (returned hands
matching no true hand; on hand-free frames every returned hand is false). Seeds: SCENE_SEED +
the scene type's index, never a training seed.

A hand the camera hardly sees (synthetic/user_scene.py: less than SEEN_FRACTION of its pixels
in view, behind a held or nearer object, the other hand, or the image border) is *hidden*: it
is not a hand to find (``hands`` counts the seen ones), and a returned hand matching it is not
false either; ``hidden`` counts them and ``found_all`` is the share found of all hands, hidden
ones included.

With ``misses`` each set also says why its missed seen hands were missed (miss_reason): no
detector peak near the hand, a peak too weak to be tried, a weak peak the pose network did not
confirm, a hand returned off its centre, and so on: what to train next; and which found hands
were told the wrong side, by how flat the true hand is and which way its palm faces
(side_bins): whether the side errors are hands whose depth alone hardly tells the sides apart.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..core.camera import uvd_to_xyz
from ..core.estimator import as_depth_mm, HandPoseEstimator, MAX_HANDS
from ..core.handedness import handedness_score, palm_facing_cos
from ..core.skeleton import FROM_HAND22, HAND22
from ..synthetic.user_scene import SCENE_TYPES, SceneBatch, turned_batch, UserSceneGenerator

SCENE_SEED = 9_000_011
FOUND_WITHIN_MM = 40.0
# Miss reasons (miss_reason): a detector peak or a returned hand this near a missed hand's
# true centre (mm) is taken to be its own; peaks are read down to MISS_PEAK_FLOOR (0..1).
MISS_NEAR_MM = 60.0
OFF_CENTRE_MM = 90.0
MISS_PEAK_FLOOR = 0.05
MISS_REASONS = ('no_peak', 'below_weak', 'weak_unconfirmed', 'not_returned',
                'low_confidence', 'off_centre')
_ICVL = list(FROM_HAND22['icvl16'])
# Side errors (side_bins): a true hand's flatness, |handedness_score| (mm: how far its finger
# and thumb joints lie on the palm side; about 0 for a flat hand), binned at FLAT_EDGES_MM; its
# palm faces the camera when palm_facing_cos > FACING_COS, its back when < -FACING_COS, else
# it is edge-on.
FLAT_EDGES_MM = (5.0, 10.0, 20.0)
FACING_COS = 0.5
FLAT_BINS = ('< 5 mm', '5-10 mm', '10-20 mm', '>= 20 mm')
FACINGS = ('palm', 'edge-on', 'back')


@dataclass
class SceneScore:
    """Counts and sums of one scene set."""

    frames: int = 0
    hands: int = 0
    found: int = 0
    hidden: int = 0
    hidden_found: int = 0
    side_ok: int = 0
    false: int = 0
    joint_err_sum_mm: float = 0.0

    def row(self) -> Dict[str, float]:
        """Rates and means of the set."""
        return {'frames': self.frames, 'hands': self.hands,
                'found': self.found / self.hands if self.hands else float('nan'),
                'hidden': self.hidden,
                'found_all': ((self.found + self.hidden_found) / (self.hands + self.hidden)
                              if self.hands + self.hidden else float('nan')),
                'handedness': self.side_ok / self.found if self.found else float('nan'),
                'joint_error_mm': (self.joint_err_sum_mm / self.found if self.found
                                   else float('nan')),
                'false_per_frame': self.false / self.frames if self.frames else float('nan')}


def match_hands(truth_mm: Sequence[np.ndarray], seen: Sequence[bool],
                returned_mm: Sequence[np.ndarray]) -> List[Optional[int]]:
    """For each true hand (centres ``truth_mm``, mm), the index of the returned hand (centres
    ``returned_mm``, mm) it is matched to, or None: seen hands first, each to its nearest unused
    returned hand within FOUND_WITHIN_MM; a hidden hand then takes one left near it, so that
    returned hand is not false either."""
    match: List[Optional[int]] = [None] * len(truth_mm)
    used = set()
    for t in sorted(range(len(truth_mm)), key=lambda t: not seen[t]):
        best, best_d = None, FOUND_WITHIN_MM
        for j, c in enumerate(returned_mm):
            d = float(np.linalg.norm(c - truth_mm[t]))
            if j not in used and d <= best_d:
                best, best_d = j, d
        if best is not None:
            used.add(best)
            match[t] = best
    return match


def miss_reason(center_mm: np.ndarray, returned_mm: Sequence[np.ndarray],
                kept_mm: Sequence[np.ndarray],
                peaks: Optional[Sequence[Tuple[np.ndarray, float]]],
                threshold: float, weak: float) -> str:
    """Why a seen hand whose true centre is ``center_mm`` (mm) was not found, one of
    MISS_REASONS: 'off_centre' (a counted hand, ``kept_mm``, returned within OFF_CENTRE_MM
    but beyond FOUND_WITHIN_MM), 'low_confidence' (a hand returned within FOUND_WITHIN_MM,
    ``returned_mm``, but not counted: under the confidence gate), then by the best learned
    detector peak within MISS_NEAR_MM (``peaks``: (centre mm, score); None for the nearest-blob
    finder): 'no_peak', 'below_weak' (under the ``weak`` threshold: never tried),
    'weak_unconfirmed' (under ``threshold``: the pose network did not confirm it) or
    'not_returned' (a strong peak, the hand dropped later: localizer, hand cap)."""
    def near(points: Sequence[np.ndarray], within: float) -> bool:
        return any(float(np.linalg.norm(p - center_mm)) <= within for p in points)

    if near(kept_mm, OFF_CENTRE_MM):
        return 'off_centre'
    if near(returned_mm, FOUND_WITHIN_MM):
        return 'low_confidence'
    if peaks is None:
        return 'not_returned'
    scores = [s for c, s in peaks if float(np.linalg.norm(c - center_mm)) <= MISS_NEAR_MM]
    if not scores:
        return 'no_peak'
    best = max(scores)
    if best < weak:
        return 'below_weak'
    return 'weak_unconfirmed' if best < threshold else 'not_returned'


def side_bins(xyz22_mm: np.ndarray, left: bool) -> Tuple[str, str]:
    """(FLAT_BINS entry, FACINGS entry) of a true hand: its joints (22, 3) mm in the camera
    optical frame (HAND22) and its true side."""
    flat = abs(float(handedness_score(xyz22_mm, HAND22)))
    cos = float(palm_facing_cos(xyz22_mm, HAND22, left))
    facing = 'palm' if cos > FACING_COS else 'back' if cos < -FACING_COS else 'edge-on'
    return FLAT_BINS[int(np.searchsorted(FLAT_EDGES_MM, flat, side='right'))], facing


def tally_sides(sides: Dict[str, List[int]], hands, truth: List, match: List[Optional[int]],
                truth22_mm: List[np.ndarray]) -> None:
    """Add one frame's found seen hands to ``sides`` (side_bins key -> [found, wrong side]):
    ``hands`` returned, ``truth`` and ``match`` as _score_frame's, ``truth22_mm`` each true
    hand's HAND22 joints (mm)."""
    for (_, _, left, seen), m, xyz22 in zip(truth, match, truth22_mm):
        if seen and m is not None:
            wrong = int((hands[m].handedness == 'left') != left)
            for key in side_bins(xyz22, left):
                sides[key][0] += 1
                sides[key][1] += wrong


Truth = Tuple[np.ndarray, np.ndarray, bool, bool]   # ICVL16 xyz mm, centre mm, left, seen


def scene_truth(batch: SceneBatch, i: int) -> List[Truth]:
    """The true hands of frame ``i`` of ``batch`` as _score_frame takes them, one per present
    hand in slot order: (ICVL16 joints (16, 3) mm, centre (3,) mm, left, seen)."""
    intr = batch.intrinsics
    return [(batch.hand22[i, h, _ICVL].numpy(),
             uvd_to_xyz(batch.center_uvd[i, h][None].double(), intr)[0].numpy(),
             bool(batch.left[i, h]), bool(batch.seen[i, h]))
            for h in range(batch.present.shape[1]) if bool(batch.present[i, h])]


def _score_frame(score: SceneScore, hands, truth: List[Truth]) -> List[Optional[int]]:
    """Match returned hands to true ones (match_hands) and count; ``truth``: (ICVL16 joints mm,
    centre mm, left, seen) per true hand. Returns the match (match_hands)."""
    score.frames += 1
    match = match_hands([t[1] for t in truth], [t[3] for t in truth], [h.center for h in hands])
    for (xyz16, _, left, seen), best in zip(truth, match):
        if not seen:
            score.hidden += 1
            score.hidden_found += int(best is not None)
            continue
        score.hands += 1
        if best is None:
            continue
        score.found += 1
        score.side_ok += int((hands[best].handedness == 'left') == left)
        if hands[best].joint_set.name == 'icvl16':
            score.joint_err_sum_mm += float(np.linalg.norm(hands[best].xyz - xyz16, axis=-1)
                                            .mean())
    score.false += len(hands) - sum(m is not None for m in match)
    return match


def evaluate_scenes(est: HandPoseEstimator, frames_per_type: int, seed: int = 0,
                    batch: int = 8, min_confidence: float = 0.0, misses: bool = False,
                    scenes_turned_deg: int = 0) -> Dict[str, Dict[str, float]]:
    """Per scene set ('third_person', 'egocentric', 'robot', 'hand_free'): SceneScore.row().
    Hands whose mean joint confidence is below ``min_confidence`` count as not returned (the
    node does not publish them: its min_confidence). ``misses``: each row also has 'misses',
    the count of missed seen hands per MISS_REASONS and their median share in view
    ('visible_median'), at the cost of one more detector pass per batch, and 'sides': per
    FLAT_BINS and FACINGS entry of the found hands (side_bins), [found, told the wrong side].
    ``scenes_turned_deg``: the same scenes seen by a camera rolled about its optical axis, each
    frame turned clockwise by that many degrees with its labels (user_scene.turned_batch; the
    estimator's ``rotation_deg`` turns them back); not with ``misses``, whose detector peaks are
    read on the frames as given."""
    if misses and scenes_turned_deg:
        raise ValueError('misses reads the detector on the frames as given: not with turned '
                         'scenes')
    gen = UserSceneGenerator(full_resolution=True)
    sets = list(SCENE_TYPES) + ['hand_free']
    learned = est.detector == 'learned'
    out = {}
    for k, name in enumerate(sets):
        gen.reseed(SCENE_SEED + 101 * seed + k)
        score = SceneScore()
        why: Dict[str, int] = {r: 0 for r in MISS_REASONS}
        visible: List[float] = []
        sides = {b: [0, 0] for b in FLAT_BINS + FACINGS}
        done = 0
        while done < frames_per_type:
            cam = gen.cameras[(done // batch) % len(gen.cameras)]
            n = min(batch, frames_per_type - done)
            b = turned_batch(gen.sample(n, scene=k % len(SCENE_TYPES), camera=cam,
                                        hands=0 if name == 'hand_free' else None,
                                        min_hands=0 if name == 'hand_free' else 1),
                             scenes_turned_deg)
            results = est.estimate_batch(list(b.depth_mm.numpy()), b.intrinsics)
            peaks = (_peaks_mm(est, b.depth_mm.numpy(), b.intrinsics) if misses and learned
                     else [None] * n)
            for i, r in enumerate(results):
                truth = scene_truth(b, i)
                present = [h for h in range(b.present.shape[1]) if bool(b.present[i, h])]
                shares = [float(b.visible[i, h]) for h in present]
                whole = [b.hand22[i, h].numpy() for h in present]
                kept = [h for h in r.hands if float(h.confidence.mean()) >= min_confidence]
                match = _score_frame(score, kept, truth)
                if not misses:
                    continue
                tally_sides(sides, kept, truth, match, whole)
                for t, m, share in zip(truth, match, shares):
                    if t[3] and m is None:
                        why[miss_reason(t[1], [h.center for h in r.hands],
                                        [h.center for h in kept], peaks[i],
                                        est.detection_threshold,
                                        est.weak_detection_threshold)] += 1
                        visible.append(share)
            done += n
        out[name] = score.row()
        if misses:
            out[name]['misses'] = dict(why, visible_median=(float(np.median(visible))
                                                            if visible else float('nan')))
            out[name]['sides'] = sides
    return out


def _peaks_mm(est: HandPoseEstimator, depths: np.ndarray, intr
              ) -> List[List[Tuple[np.ndarray, float]]]:
    """Per frame, the learned detector's peaks down to MISS_PEAK_FLOOR: (centre mm, score)."""
    frames = [as_depth_mm(f, intr) for f in depths]
    found = est.detect(frames, intr, MISS_PEAK_FLOOR, 2 * MAX_HANDS)
    return [[(uvd_to_xyz(torch.from_numpy(d.center_uvd[None]).double(), intr)[0].numpy(),
              float(d.score)) for d in dets] for dets in found]


def percent_cell(share: float) -> str:
    """A table cell for a share (0-1) as a percentage; '-' for NaN (nothing to count)."""
    return '-' if share != share else f'{100 * share:.1f} %'


def error_cell(mm: float) -> str:
    """A table cell for a mean joint error (mm); '-' for NaN (no hand found)."""
    return '-' if mm != mm else f'{mm:.1f} mm'


def scene_table(rows: Dict[str, Dict[str, float]]) -> str:
    """A Markdown table of evaluate_scenes()."""
    lines = ['| scenes | frames | hands (+ hidden) | found (<= 40 mm) | found of all hands | '
             'handedness | mean joint error | false hands / frame |',
             '|---|---|---|---|---|---|---|---|']
    for name, r in rows.items():
        lines.append(f"| {name} | {r['frames']} | {r['hands']} (+ {r['hidden']}) | "
                     f"{percent_cell(r['found'])} | {percent_cell(r['found_all'])} | "
                     f"{percent_cell(r['handedness'])} | {error_cell(r['joint_error_mm'])} | "
                     f"{r['false_per_frame']:.3f} |")
    return '\n'.join(lines)


MISS_HEADINGS = {'no_peak': f'no peak <= {MISS_NEAR_MM:.0f} mm', 'below_weak': 'peak < weak',
                 'weak_unconfirmed': 'weak, not confirmed', 'not_returned': 'dropped later',
                 'low_confidence': 'under --min-confidence',
                 'off_centre': f'returned {FOUND_WITHIN_MM:.0f}-{OFF_CENTRE_MM:.0f} mm off'}


def miss_table(rows: Dict[str, Dict[str, float]]) -> str:
    """A Markdown table of why the seen hands of evaluate_scenes(misses=True) were missed."""
    lines = ['| scenes | missed | ' + ' | '.join(MISS_HEADINGS[r] for r in MISS_REASONS) +
             ' | median share in view |', '|---' * (len(MISS_REASONS) + 3) + '|']
    for name, r in rows.items():
        m = r.get('misses')
        if m is None or not r['hands']:
            continue
        share = '-' if m['visible_median'] != m['visible_median'] else \
            f"{m['visible_median']:.2f}"
        lines.append(f"| {name} | {sum(m[x] for x in MISS_REASONS)} | " +
                     ' | '.join(str(m[x]) for x in MISS_REASONS) + f' | {share} |')
    return '\n'.join(lines)


def side_table(rows: Dict[str, Dict[str, float]]) -> str:
    """A Markdown table of the found hands of evaluate_scenes(misses=True) told the wrong side,
    by the true hand's flatness and facing (side_bins): 'wrong / found' per column."""
    keys = FLAT_BINS + FACINGS
    lines = ['| scenes | ' + ' | '.join(f'flatness {k}' for k in FLAT_BINS) + ' | ' +
             ' | '.join(f'{k} to camera' if k != 'edge-on' else k for k in FACINGS) + ' |',
             '|---' * (len(keys) + 1) + '|']
    for name, r in rows.items():
        s = r.get('sides')
        if s is None or not r['hands']:
            continue
        lines.append(f'| {name} | ' + ' | '.join(f'{s[k][1]} / {s[k][0]}' for k in keys) + ' |')
    return '\n'.join(lines)
