"""tracking_eval: the per-frame matching, a short run of both settings on the shipped
estimator (following must find what the detector on every frame finds, with fewer detector
runs), and a user-scene video scored alone, with the left/right memory and as the node."""
import numpy as np
import pytest

from hand_pose_ros.core.estimator import HandPose, HandPoseEstimator
from hand_pose_ros.core.hand_tracker import HandTracker
from hand_pose_ros.core.resources import resolve_detector_file
from hand_pose_ros.core.skeleton import get_joint_set
from hand_pose_ros.training.tracking_eval import (_score, evaluate_scene_videos,
                                                  evaluate_tracking, main, scene_videos,
                                                  TrackCounts, VIEW_SETTINGS, view_settings,
                                                  views_table)

ICVL16 = get_joint_set('icvl16')


def _pose(center, side, offset_mm=0.0):
    xyz = np.zeros((16, 3), np.float32) + np.asarray(center, np.float32) + offset_mm
    return HandPose(xyz=xyz, uvd=xyz, confidence=np.ones(16, np.float32),
                    center=np.asarray(center, np.float32), joint_set=ICVL16, timings={},
                    patch=np.zeros((2, 2), np.float32), patch_uv=np.zeros((16, 2), np.float32),
                    handedness=side)


def test_a_frame_is_matched_by_nearest_centre_within_40_mm():
    truth = [(np.full((16, 3), [0.0, 0.0, 500.0], np.float32), 'right'),
             (np.full((16, 3), [200.0, 0.0, 500.0], np.float32), 'left')]
    c = TrackCounts()
    # the right hand 30 mm off (found, 30 mm joints), the left one called right, a third far
    _score(c, [_pose([0, 0, 530], 'right'), _pose([200, 0, 500], 'right'),
               _pose([600, 0, 500], 'left')], truth)
    row = c.as_dict()
    assert (c.hands, c.found, c.side_ok, c.false) == (2, 2, 1, 1)
    assert row['joint_error_mm'] == pytest.approx(15.0) and row['handedness'] == 0.5
    c2 = TrackCounts()
    _score(c2, [_pose([0, 0, 545], 'right')], truth[:1])         # 45 mm: not found, false
    assert (c2.found, c2.false) == (0, 1)


@pytest.mark.skipif(resolve_detector_file('default', 'default') is None,
                    reason='no hand detector shipped in models/')
def test_following_finds_what_the_detector_finds_with_fewer_detector_runs():
    est = HandPoseEstimator.from_files('default', device='cpu', precision='fp32',
                                       joint_order='icvl16')
    rows = evaluate_tracking(est, 'validation', 1, 4, 30.0,
                             {'every frame': None,
                              'follow': lambda: HandTracker(4, 0.1)}, 0.1)
    every, follow = rows['every frame'], rows['follow']
    assert every['hands'] == follow['hands'] == 16            # 4 frames x (2 + 1 + 1) hands
    assert every['found'] >= 0.9 and follow['found'] >= every['found'] - 0.1
    assert abs(follow['joint_error_mm'] - every['joint_error_mm']) < 3.0
    assert every['detector_share'] == 1.0
    # 3 videos: the first frame of each; 2 hand-free scenes: every frame (nothing followed)
    assert follow['detector_share'] == pytest.approx((3 * 1 + 2 * 4) / (3 * 4 + 2 * 4))


@pytest.mark.skipif(resolve_detector_file('default', 'default') is None,
                    reason='no hand detector shipped in models/')
def test_user_scene_videos_are_scored_alone_with_memory_and_as_the_node():
    depths, truths, intr = scene_videos('validation', 'third_person', 1, 12)[0]
    assert len(depths) == len(truths) == 12 and depths[0].shape == (intr.height, intr.width)
    for xyz16, centre, _, _ in truths[0]:         # the centre of the joints' 3D box (mm)
        assert np.allclose(centre, 0.5 * (xyz16.max(0) + xyz16.min(0)), atol=1.0)
    est = HandPoseEstimator.from_files('default', device='cpu', precision='fp32',
                                       joint_order='icvl16')
    rows = evaluate_scene_videos(est, 'validation', 1, 12, 30.0, VIEW_SETTINGS, 0.1,
                                 views=['third_person'])
    assert list(rows) == ['third_person']
    by_setting = rows['third_person']
    assert list(by_setting) == list(VIEW_SETTINGS)
    alone, memory, node = (by_setting[k] for k in VIEW_SETTINGS)
    # every setting sees the same video: the same frames and true hands
    assert {(r['frames'], r['hands'], r['hidden']) for r in by_setting.values()} == {(12, 12, 0)}
    assert alone['found'] == memory['found'] == node['found'] == 1.0   # an easy video
    assert memory['handedness'] >= alone['handedness']      # the memory outvotes odd frames
    assert alone['detector_share'] == memory['detector_share'] == 1.0
    assert node['detector_share'] < 0.5                     # followed, re-detected every 5th
    assert 'third_person | the node' in views_table(rows)


def test_views_node_row_takes_the_trackers_settings_and_bad_ones_are_refused(capsys):
    settings = view_settings(3, 2, 0.3)
    name = list(settings)[-1]
    memory, make = settings[name]
    tracker = make()
    assert memory and (tracker.redetect_every, tracker.passes, tracker.min_confidence) == \
        (3, 2, 0.3)
    assert '3' in name and '2 localizer passes' in name and '0.3' in name
    for argv in (['--views', '--viewpoints', 'robot,nowhere'],
                 ['--views', '--follow-min-confidence', '1.5'],
                 ['--views', '--redetect-every', '0']):
        with pytest.raises(SystemExit) as err:
            main(argv)
        assert err.value.code == 2
    assert 'viewpoints' in capsys.readouterr().err
