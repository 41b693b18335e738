"""RViz markers: one sphere per joint in finger colours, bones, per-side namespaces, and DELETE
actions for exactly one side's markers (drawings: test/core/test_drawing.py)."""
import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from std_msgs.msg import Header  # noqa: E402, I202
from visualization_msgs.msg import Marker  # noqa: E402

from hand_pose_ros.core.skeleton import ICVL16, NYU14  # noqa: E402
from hand_pose_ros.ros.markers import delete_hand_markers, skeleton_markers  # noqa: E402


@pytest.mark.parametrize('joint_set', [ICVL16, NYU14])
def test_skeleton_markers(joint_set):
    header = Header(frame_id='cam')
    xyz = np.random.default_rng(0).uniform(-50, 50, (joint_set.num_joints, 3)) + [0, 0, 400]
    markers = skeleton_markers(xyz, joint_set, header, 'left').markers
    spheres = [m for m in markers if m.type == Marker.SPHERE]
    assert {m.ns for m in spheres} == {'left/joints'}
    assert [m.id for m in spheres] == list(range(joint_set.num_joints))
    assert all(m.header.frame_id == 'cam' for m in markers)
    assert spheres[3].pose.position.z == pytest.approx(xyz[3, 2] / 1e3)   # metres
    for j, m in enumerate(spheres):
        assert (m.color.r, m.color.g, m.color.b) == pytest.approx(joint_set.color(j))
    (bones,) = [m for m in markers if m.type == Marker.LINE_LIST]
    assert bones.ns == 'left/bones'
    assert len(bones.points) == 2 * len(joint_set.bones) == len(bones.colors)
    with pytest.raises(ValueError, match=r'\(16, 3\)'):
        skeleton_markers(np.zeros((3, 3)), ICVL16, header)


@pytest.mark.parametrize('side,other', [('right', 'left'), ('left', 'right')])
def test_delete_hand_markers_removes_exactly_that_sides_skeleton(side, other):
    """Catches: a DELETE that misses a marker (a stale joint stays in RViz), one that hits the
    other hand's namespace, or a DELETEALL that also clears the other hand."""
    header = Header(frame_id='cam')
    xyz = np.zeros((16, 3)) + [0, 0, 400]
    drawn = {(m.ns, m.id) for m in skeleton_markers(xyz, ICVL16, header, side).markers}
    other_drawn = {(m.ns, m.id) for m in skeleton_markers(xyz, ICVL16, header, other).markers}
    deleted = delete_hand_markers(ICVL16, header, side).markers
    assert all(m.action == Marker.DELETE and m.header.frame_id == 'cam' for m in deleted)
    assert {(m.ns, m.id) for m in deleted} == drawn and not drawn & other_drawn
