"""Parameter table, descriptors and cross-parameter validation (no spinning)."""
from dataclasses import fields, replace

import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from rcl_interfaces.msg import ParameterType  # noqa: E402, I202
import yaml  # noqa: E402

from hand_pose_ros.core.estimator import (DEFAULT_DETECTION_THRESHOLD,  # noqa: E402
                                          DEFAULT_MAX_HANDS, DEFAULT_WEAK_DETECTION_THRESHOLD,
                                          DETECTORS, HANDEDNESS_MODES, MAX_HANDS)
from hand_pose_ros.core.resources import find_resource  # noqa: E402
from hand_pose_ros.ros.node_params import (DEFAULTS, descriptor, markdown_table,  # noqa: E402
                                           network_threads, NodeParams, PARAMETERS, validate,
                                           with_changes)


def test_every_field_has_a_described_parameter():
    assert [s.name for s in PARAMETERS] == [f.name for f in fields(NodeParams)]
    for spec in PARAMETERS:
        desc = descriptor(spec)
        assert desc.description and desc.name == spec.name
        value = getattr(DEFAULTS, spec.name)
        if isinstance(value, float) and not isinstance(value, bool):
            assert desc.type == ParameterType.PARAMETER_DOUBLE
            assert desc.floating_point_range, f'{spec.name} needs a range'
        if isinstance(value, int) and not isinstance(value, bool):
            assert desc.integer_range, f'{spec.name} needs a range'
    for name in ('model', 'localizer', 'device', 'reliable_input'):
        assert descriptor(next(s for s in PARAMETERS if s.name == name)).read_only
    assert validate(DEFAULTS) == []


@pytest.mark.parametrize('changes,message', [
    ({'near_m': 1.0, 'far_m': 0.5}, 'near_m < far_m'),
    ({'near_m': 1.5}, 'near_m < far_m'),
    ({'handedness': 'both'}, 'handedness must be one of'),
    ({'handedness': 'Right'}, 'handedness must be one of'),
    ({'detector': 'yolo'}, 'detector must be one of'),
    ({'max_hands': 0}, 'max_hands must be in [1,'),
    ({'max_hands': MAX_HANDS + 1}, 'max_hands must be in [1,'),
    ({'detection_threshold': -0.1}, 'detection_threshold must be in [0.0, 1.0]'),
    ({'detection_threshold': 1.5}, 'detection_threshold must be in [0.0, 1.0]'),
    ({'weak_detection_threshold': -0.1}, 'weak_detection_threshold must be in [0.0, 1.0]'),
    ({'min_confidence': 1.5}, 'min_confidence must be in'),
    ({'max_image_pixels': 10}, 'max_image_pixels must be in'),
    ({'model': ''}, 'model must name'),
    ({'undistort': 'true'}, 'undistort must be one of'),
    ({'input_rotation_deg': 45}, 'input_rotation_deg must be 0 + a multiple of 90'),
    ({'input_rotation_deg': 360}, 'input_rotation_deg must be in [0, 270]'),
])
def test_invalid_values_are_refused_with_a_reason(changes, message):
    problems = validate(replace(DEFAULTS, **changes))
    assert any(message in p for p in problems), problems


@pytest.mark.parametrize('changes', [
    {'handedness': side} for side in HANDEDNESS_MODES] + [
    {'detector': name} for name in DETECTORS] + [
    {'max_hands': 1}, {'max_hands': MAX_HANDS},
    {'detection_threshold': 0.0}, {'detection_threshold': 1.0},
    {'weak_detection_threshold': 0.0}, {'weak_detection_threshold': 1.0}] + [
    {'input_rotation_deg': angle} for angle in (0, 90, 180, 270)])
def test_valid_hand_settings_are_accepted(changes):
    assert validate(replace(DEFAULTS, **changes)) == []


def test_hand_parameters_follow_the_core():
    """Defaults and ranges come from core/estimator.py (one source of truth)."""
    assert (DEFAULTS.handedness, DEFAULTS.detector) == ('auto', 'learned')
    assert DEFAULTS.max_hands == DEFAULT_MAX_HANDS
    assert DEFAULTS.detection_threshold == DEFAULT_DETECTION_THRESHOLD
    assert DEFAULTS.weak_detection_threshold == DEFAULT_WEAK_DETECTION_THRESHOLD
    spec = {s.name: s for s in PARAMETERS}
    (hands,) = descriptor(spec['max_hands']).integer_range
    assert (hands.from_value, hands.to_value) == (1, MAX_HANDS)
    for name in ('detection_threshold', 'weak_detection_threshold'):
        (threshold,) = descriptor(spec[name]).floating_point_range
        assert (threshold.from_value, threshold.to_value) == (0.0, 1.0)
    (turn,) = descriptor(spec['input_rotation_deg']).integer_range
    assert (turn.from_value, turn.to_value, turn.step) == (0, 270, 90)
    assert not any(descriptor(spec[n]).read_only for n in (
        'handedness', 'max_hands', 'detector', 'detection_threshold',
        'weak_detection_threshold'))


def test_with_changes():
    left = with_changes(DEFAULTS, [('handedness', 'left'), ('near_m', 0.2)])
    assert left.handedness == 'left' and left.near_m == 0.2 and DEFAULTS.handedness == 'auto'
    with pytest.raises(KeyError):
        with_changes(DEFAULTS, [('no_such', 1)])


def test_shipped_yaml_matches_the_table():
    with open(find_resource('config/hand_pose.yaml'), encoding='utf-8') as f:
        params = yaml.safe_load(f)['hand_pose_node']['ros__parameters']
    assert set(params) == {s.name for s in PARAMETERS}
    for name, value in params.items():
        default = getattr(DEFAULTS, name)
        assert type(value) is type(default) and value == default, name


def test_markdown_table_lists_every_parameter():
    table = markdown_table()
    for spec in PARAMETERS:
        assert f'`{spec.name}`' in table
    assert '`joint_names`' in table


def test_auto_threads_leave_a_core_to_ros():
    assert network_threads(0, cores=2) == 1 and network_threads(0, cores=16) == 15
    assert network_threads(0, cores=1) == 1
    assert network_threads(3, cores=2) == 3          # an explicit count is kept
