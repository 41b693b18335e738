"""HandTracker: when the detector runs, which hands are followed, when one is lost."""
import numpy as np
import pytest

from hand_pose_ros.core.camera import Intrinsics
from hand_pose_ros.core.hand_tracker import distinct_hands, HandTracker

INTR = Intrinsics(380.0, 380.0, 319.5, 239.5, 640, 480)
DT = 1 / 30
HAND_UVD = np.array([[300.0, 200.0, 500.0]], np.float32)
HAND_MM = np.array([[-25.0, -50.0, 500.0]])


def _see(tracker, t_s, detected, uvd=HAND_UVD, mm=HAND_MM, scores=(0.9,), conf=(0.6,)):
    return tracker.update(t_s, detected, uvd, mm, list(scores), list(conf))


def test_the_detector_runs_until_a_hand_is_followed_then_one_frame_in_n():
    tracker = HandTracker(redetect_every=4, min_confidence=0.2)
    ran = []
    for f in range(10):
        detect, followed = tracker.plan(f * DT, INTR)
        ran.append(detect)
        if not detect:
            assert len(followed) == 1 and followed[0].score == pytest.approx(0.9)
            np.testing.assert_allclose(followed[0].center_uvd, HAND_UVD[0])
        _see(tracker, f * DT, detect)
    assert ran == [True, False, False, False, True, False, False, False, True, False]
    assert tracker.detector_frames == 3 and tracker.followed_frames == 7


def test_nothing_in_view_runs_the_detector_every_frame():
    tracker = HandTracker(redetect_every=5)
    for f in range(6):
        detect, followed = tracker.plan(f * DT, INTR)
        assert detect and followed == []
        tracker.update(f * DT, detect, np.zeros((0, 3)), np.zeros((0, 3)), [], [])


def test_a_hand_below_min_confidence_is_lost():
    tracker = HandTracker(redetect_every=5, min_confidence=0.3)
    tracker.plan(0.0, INTR)
    assert list(_see(tracker, 0.0, True, conf=(0.6,))) == [True]
    assert tracker.plan(DT, INTR) == (False, tracker.hands)
    assert list(_see(tracker, DT, False, conf=(0.2,))) == [False]
    assert tracker.plan(2 * DT, INTR) == (True, [])


def test_a_gap_time_going_back_or_another_camera_start_again():
    tracker = HandTracker(redetect_every=5, max_gap_s=0.15)
    tracker.plan(0.0, INTR)
    _see(tracker, 0.0, True)
    assert tracker.plan(0.1, INTR)[0] is False
    _see(tracker, 0.1, False)
    assert tracker.plan(0.3, INTR) == (True, [])                 # 0.2 s without a frame
    _see(tracker, 0.3, True)
    assert tracker.plan(0.2, INTR) == (True, [])                 # time went back
    _see(tracker, 0.2, True)
    other = Intrinsics(200.0, 200.0, 159.5, 119.5, 320, 240)
    assert tracker.plan(0.2 + DT, other) == (True, [])           # another camera
    _see(tracker, 0.2 + DT, True)
    tracker.reset()
    assert tracker.plan(0.2 + 2 * DT, other) == (True, [])


def test_two_hands_on_one_keep_the_higher_score_and_two_apart_stay():
    tracker = HandTracker(redetect_every=5)
    tracker.plan(0.0, INTR)
    uvd = np.array([[300, 200, 500], [310, 200, 505], [420, 200, 500]], np.float32)
    mm = np.array([[-25, -50, 500], [-12, -50, 505], [132, -50, 500]], np.float64)
    keep = tracker.update(0.0, True, uvd, mm, [0.6, 0.8, 0.7], [0.5, 0.5, 0.5])
    assert list(keep) == [False, True, True]
    assert sorted(h.score for h in tracker.hands) == pytest.approx([0.7, 0.8])
    assert distinct_hands(mm, [0.9, 0.1, 0.5]) == [True, False, True]


def test_redetect_every_1_is_each_frame_alone():
    tracker = HandTracker(redetect_every=1)
    for f in range(3):
        assert tracker.plan(f * DT, INTR) == (True, [])
        _see(tracker, f * DT, True)


@pytest.mark.parametrize('kwargs', [{'redetect_every': 0}, {'redetect_every': 301},
                                    {'min_confidence': 1.5}, {'passes': 0},
                                    {'max_gap_s': 0.0}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        HandTracker(**kwargs)
