"""Packaging for hand_pose_ros: an ament_python package that also installs with pip."""
from glob import glob
import os

from setuptools import find_packages, setup

PACKAGE = 'hand_pose_ros'


def _files(pattern: str) -> list:
    """Return the files (not folders) matching a glob pattern, sorted."""
    return sorted(p for p in glob(pattern) if os.path.isfile(p))


# What the test suite needs (`pip install .[test]`). colcon reads extras_require['test'] (the
# ament_python convention now that setuptools dropped tests_require): with pytest listed there,
# `colcon test` runs pytest over test/ instead of falling back to unittest (which finds 0 tests).
TEST_REQUIRES = ['pytest>=7', 'pytest-timeout>=2.1', 'flake8>=6', 'flake8-import-order']

# Robot-hand retargeting (hand_pose_ros.teleop, hand_retarget_node): dex-retargeting pulls in
# pinocchio (pin), nlopt, pytransform3d, anytree and lxml; its vendored URDF reader imports six,
# which 0.5.0 does not declare. It supports Python < 3.13 only (elsewhere the extra installs
# nothing and the teleop tests skip).
TELEOP = ['dex-retargeting==0.5.0; python_version < "3.13"', 'six']

# The PyPI ROS 2 wheels: never a hard requirement (a user with a sourced ROS distro
# already has rclpy and the message packages and must not get a second copy).
ROS_WHEELS = [
    'ros-rclpy', 'ros-rmw-fastrtps-cpp', 'ros-sensor-msgs', 'ros-visualization-msgs',
    'ros-geometry-msgs', 'ros-std-msgs', 'ros-diagnostic-msgs',
]

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', _files('launch/*.py')),
        ('share/' + PACKAGE + '/config', _files('config/*.yaml') + _files('config/*.rviz')),
        ('share/' + PACKAGE + '/config/train', _files('config/train/*.yaml')),
        ('share/' + PACKAGE + '/config/models', _files('config/models/*.yaml')),
        ('share/' + PACKAGE + '/models',
         _files('models/*.pt') + _files('models/*.md') + _files('models/*.yaml')
         + _files('models/*.png')),
    ],
    python_requires='>=3.10',
    # torch is deliberately unpinned-but-bounded: install torch first (README) so pip
    # never pulls a multi-GB CUDA build as a side effect.
    install_requires=[
        'setuptools',
        'numpy>=1.24',
        'opencv-python-headless>=4.8',
        'pyyaml>=6',
        'torch>=2.1',
        'scipy>=1.10',
        'matplotlib>=3.7',
        'tqdm>=4.60',
        'tensorboard>=2.12',
    ],
    extras_require={
        'ros': ROS_WHEELS,
        'onnx': ['onnx>=1.15', 'onnxruntime>=1.17'],
        'teleop': TELEOP,
        # `hand-pose estimate` on recorded ROS 2 bags (.db3, .mcap) without ROS
        'bags': ['rosbags>=0.10'],
        'test': TEST_REQUIRES,
        'dev': TEST_REQUIRES + ['colcon-common-extensions'],
    },
    zip_safe=True,
    maintainer='hand_pose_ros maintainers',
    maintainer_email='maintainers@hand-pose-ros.invalid',
    description='3D hand joints from one depth image, with ROS 2 adapters.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'hand-pose = hand_pose_ros.cli:main',
            'hand_pose_node = hand_pose_ros.ros.node:main',
            'depth_source = hand_pose_ros.ros.depth_source:main',
            'hand_retarget_node = hand_pose_ros.ros.retarget_node:main',
        ],
    },
)
