"""Scoring the held-out user scenes: seen hands are found or missed, hidden hands are neither
a miss nor (when a returned hand matches one) a false hand; each miss has its reason."""
from types import SimpleNamespace

import numpy as np
import torch

from hand_pose_ros.core.skeleton import get_joint_set
from hand_pose_ros.synthetic.hand_model import default_skeleton, forward_kinematics, HandAngles
from hand_pose_ros.training.scene_eval import (_score_frame, FACINGS, FLAT_BINS, miss_reason,
                                               MISS_REASONS, miss_table, scene_table,
                                               SceneScore, side_bins, side_table,
                                               tally_sides)

ICVL = get_joint_set('icvl16')


def _hand(center_mm, side='right'):
    """A returned hand at ``center_mm`` whose joints all sit at its centre."""
    c = np.asarray(center_mm, np.float64)
    return SimpleNamespace(center=c, handedness=side, joint_set=ICVL,
                           xyz=np.repeat(c[None], 16, 0))


def _truth(center_mm, left=False, seen=True):
    c = np.asarray(center_mm, np.float64)
    return np.repeat(c[None], 16, 0) + 10.0, c, left, seen


def test_hidden_hands_are_neither_missed_nor_false():
    score = SceneScore()
    # frame 1: a seen hand found (on its side), a hidden one matched by a returned hand
    _score_frame(score, [_hand([0, 0, 500]), _hand([200, 0, 500])],
                 [_truth([210, 0, 500], seen=False), _truth([5, 0, 500])])
    # frame 2: a seen hand missed, a hidden one missed, one returned hand far from both
    _score_frame(score, [_hand([-400, 0, 900], 'left')],
                 [_truth([0, 0, 500], left=True), _truth([100, 0, 500], seen=False)])
    row = score.row()
    assert (score.hands, score.found, score.hidden, score.hidden_found, score.false) == \
        (2, 1, 2, 1, 1)
    assert row['found'] == 0.5 and row['found_all'] == 0.5 and row['handedness'] == 1.0
    assert abs(row['joint_error_mm'] - float(np.linalg.norm([15.0, 10.0, 10.0]))) < 1e-9
    assert row['false_per_frame'] == 0.5
    table = scene_table({'robot': row})
    assert '| robot | 2 | 2 (+ 2) | 50.0 % | 50.0 % | 100.0 % |' in table


def test_a_seen_hand_takes_the_returned_hand_before_a_hidden_one():
    """One returned hand between a seen and a hidden hand (both within reach): the seen one is
    found, whatever order the labels come in."""
    for order in (1, -1):
        score = SceneScore()
        truth = [_truth([20, 0, 500], seen=False), _truth([-25, 0, 500])][::order]
        _score_frame(score, [_hand([0, 0, 500])], truth)
        assert (score.found, score.hidden_found, score.false) == (1, 0, 0)


def test_each_miss_gets_the_reason_of_its_nearest_evidence():
    """A returned hand 40-90 mm off wins over any peak; a returned hand within 40 mm that was
    not counted is the confidence gate; otherwise the best detector peak within 60 mm decides
    against the weak and detection thresholds; with no detector (nearest blob) only what was
    returned can tell."""
    c = np.array([0.0, 0.0, 600.0])
    at = [np.array([x, 0.0, 600.0]) for x in (0.0, 30.0, 55.0, 80.0, 100.0, 200.0)]

    def why(returned=(), kept=(), peaks=()):
        return miss_reason(c, list(returned), list(kept), peaks, 0.4, 0.2)

    assert why(kept=[at[3]], returned=[at[3]], peaks=[(at[0], 0.9)]) == 'off_centre'
    assert why(kept=[at[4]], returned=[at[4], at[1]]) == 'low_confidence'
    assert why(peaks=[]) == 'no_peak'
    assert why(peaks=[(at[3], 0.9), (at[5], 0.9)]) == 'no_peak'       # 80 mm: not its peak
    assert why(peaks=[(at[1], 0.1), (at[2], 0.15)]) == 'below_weak'
    assert why(peaks=[(at[1], 0.1), (at[2], 0.3)]) == 'weak_unconfirmed'  # the best one counts
    assert why(peaks=[(at[2], 0.5)]) == 'not_returned'
    assert why(kept=[at[4]], returned=[at[4]], peaks=[(at[1], 0.5)]) == 'not_returned'
    assert miss_reason(c, [], [], None, 0.4, 0.2) == 'not_returned'


def test_the_miss_table_lists_every_reason_and_skips_sets_without_hands():
    counts = dict(zip(MISS_REASONS, range(1, len(MISS_REASONS) + 1)))
    rows = {'robot': {'hands': 30, 'misses': dict(counts, visible_median=0.8125)},
            'hand_free': {'hands': 0, 'misses': dict.fromkeys(counts, 0)}}
    rows['hand_free']['misses']['visible_median'] = float('nan')
    table = miss_table(rows).splitlines()
    assert len(table) == 3 and table[0].count('|') == len(MISS_REASONS) + 4
    assert table[2] == '| robot | 21 | 1 | 2 | 3 | 4 | 5 | 6 | 0.81 |'


def _model_hand(flex_rad: float, left: bool) -> np.ndarray:
    """HAND22 joints (mm) of a hand 500 mm in front of the camera, palm towards it (the model
    frame's palm faces -z), every finger and thumb joint flexed by ``flex_rad``."""
    z, z1 = torch.zeros(1, 4), torch.zeros(1)
    angles = HandAngles(z, z + flex_rad, z + flex_rad, z1, z1, z1 + flex_rad, z1 + flex_rad,
                        z1 + 1.0)
    return forward_kinematics(angles, default_skeleton(), left)[0].double().numpy() + \
        [0.0, 0.0, 500.0]


def test_side_bins_tell_flat_from_curled_hands_and_palm_from_back():
    """A flat hand is in the flattest bin, a fist in the most curled, either side; turned half
    a turn about the vertical through its palm a hand shows the camera its back."""
    for left in (False, True):
        for flex, flat in ((0.0, '< 5 mm'), (0.3, '10-20 mm'), (1.2, '>= 20 mm')):
            xyz = _model_hand(flex, left)
            assert side_bins(xyz, left) == (flat, 'palm')
            palm = xyz[1]
            assert side_bins((xyz - palm) * [-1.0, 1.0, -1.0] + palm, left) == (flat, 'back')
            # told as the other side, the palm points away: the side given is used
            assert side_bins(xyz, not left)[1] == 'back'


def test_found_hands_are_tallied_by_bin_and_wrong_side():
    """Only seen, found hands count; one told the wrong side counts in both its bins."""
    fist, flat = _model_hand(1.2, False), _model_hand(0.0, True) + [200.0, 0.0, 0.0]
    truth = [_truth(fist[1]), _truth(flat[1], left=True), _truth([0, 0, 900], seen=False),
             _truth([300, 0, 900])]
    hands = [_hand(fist[1], 'right'), _hand(flat[1], 'right'), _hand([0, 0, 900])]
    sides = {k: [0, 0] for k in FLAT_BINS + FACINGS}
    match = _score_frame(SceneScore(), hands, truth)
    assert match == [0, 1, 2, None]
    tally_sides(sides, hands, truth, match, [fist, flat, fist, fist])
    assert sides['>= 20 mm'] == [1, 0] and sides['< 5 mm'] == [1, 1]
    assert sides['palm'] == [2, 1] and sides['back'] == [0, 0]
    assert sum(v[0] for k, v in sides.items() if k in FLAT_BINS) == 2


def test_the_side_table_gives_wrong_of_found_per_bin():
    sides = {k: [10 + i, i] for i, k in enumerate(FLAT_BINS + FACINGS)}
    rows = {'egocentric': {'hands': 40, 'sides': sides},
            'hand_free': {'hands': 0, 'sides': {k: [0, 0] for k in sides}}}
    table = side_table(rows).splitlines()
    assert len(table) == 3 and table[0].count('|') == len(sides) + 2
    assert table[2] == '| egocentric | 0 / 10 | 1 / 11 | 2 / 12 | 3 / 13 | 4 / 14 | 5 / 15 | ' \
        '6 / 16 |'
