"""The demo's per-side scores from hand-made matched hands (pure numpy, no ROS): each side
against its own truth, found / wrong-label counts, and the status line."""
import numpy as np
import pytest

from hand_pose_ros.core.handedness import nearest_side
from hand_pose_ros.core.skeleton import ICVL16
from hand_pose_ros.ros.demo_scores import MatchedHand, scores, status_text

RNG = np.random.default_rng(0)
SHAPE_MM = RNG.uniform(-40, 40, (16, 3))
RIGHT_MM = SHAPE_MM + [-150.0, 0.0, 550.0]    # the user's right hand: the image's left
LEFT_MM = SHAPE_MM + [150.0, 0.0, 550.0]
BOTH = {'right': RIGHT_MM, 'left': LEFT_MM}


def hand(stamp: int, side: str, pred_mm: np.ndarray, truths: dict) -> MatchedHand:
    return MatchedHand(stamp, side, pred_mm, truths, 20.0, float(stamp))


def frames() -> list:
    """Frame 1: both hands, right label 5 mm off, left label 10 mm off. Frame 2: the left
    hand published as right. Frame 3 (a one-hand source: right truth only): the right hand
    exact, and a hand published as left that is the right hand."""
    return [hand(1, 'right', RIGHT_MM + [3.0, 4.0, 0.0], BOTH),
            hand(1, 'left', LEFT_MM + [0.0, 0.0, 10.0], BOTH),
            hand(2, 'right', LEFT_MM + 2.0, BOTH),
            hand(3, 'right', RIGHT_MM.copy(), {'right': RIGHT_MM}),
            hand(3, 'left', RIGHT_MM + 1.0, {'right': RIGHT_MM})]


def test_each_hand_is_scored_against_its_own_side():
    right, left, swapped, exact, lone_left = frames()
    np.testing.assert_allclose(right.error_mm, 5.0)
    np.testing.assert_allclose(left.error_mm, 10.0)
    assert right.label_ok and left.label_ok and exact.label_ok
    # the left hand published as right: its truth is the left one, its label wrong
    assert swapped.true_side == 'left' and not swapped.label_ok
    # a hand published as left where the source shows no left hand: no error, wrong label
    assert lone_left.error_mm is None and lone_left.truth_mm is None
    assert lone_left.true_side == 'right' and not lone_left.label_ok
    assert nearest_side(RIGHT_MM, {}) is None


def test_scores_per_side():
    result = scores(frames(), ICVL16.joint_names)
    assert result['frames_scored'] == 3
    assert result['wrong_label'] == 2
    right, left = result['hands']['right'], result['hands']['left']
    assert (right['frames'], right['published'], right['found'], right['wrong_label']) == \
        (3, 3, 2, 1)
    assert (left['frames'], left['published'], left['found'], left['wrong_label']) == \
        (2, 2, 1, 1)
    # the errors are those of the correctly labelled hands only, against their own side
    assert right['error_mm']['mean'] == pytest.approx(2.5)
    assert right['error_mm']['frames'] == 2
    assert left['error_mm']['mean'] == pytest.approx(10.0)
    assert result['error_mm']['mean'] == pytest.approx(5.0)
    assert result['error_mm']['median'] == pytest.approx(5.0)
    assert sorted(result['error_mm']['per_joint']) == sorted(ICVL16.joint_names)


def test_scores_without_hands_are_empty_not_nan():
    result = scores([], ICVL16.joint_names)
    assert result['frames_scored'] == 0 and result['wrong_label'] == 0
    assert result['error_mm'] == {'mean': None, 'median': None, 'frames': 0, 'per_joint': {}}
    assert result['hands']['left']['found'] == 0


def test_status_text_counts_found_hands_per_side():
    text = status_text(frames())
    right, left, wrong = text.split(' | ')
    assert right.split()[:2] == ['right', '2/3'] and right.split()[2] == '2.5'
    assert left.split()[:2] == ['left', '1/3'] and left.split()[2] == '10.0'
    assert wrong.split() == ['wrong', 'label', '2']
    assert status_text([]).split(' | ')[0].split() == ['right', '0/0', '-', 'mm']
