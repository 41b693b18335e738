"""Scoring the held-out user scenes: seen hands are found or missed, hidden hands are neither
a miss nor (when a returned hand matches one) a false hand; each miss has its reason."""
from types import SimpleNamespace

import numpy as np

from hand_pose_ros.core.skeleton import get_joint_set
from hand_pose_ros.training.scene_eval import (_score_frame, miss_reason, MISS_REASONS,
                                               miss_table, scene_table, SceneScore)

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
