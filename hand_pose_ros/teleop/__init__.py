"""Teleoperation: hand joints -> robot hand joint positions (ROS-free).

``wrist_frame_points`` (numpy only) puts MediaPipe-21 joints into the MANO wrist frame that
dex-retargeting reads; ``HandRetargeter`` runs dex-retargeting on them (installed with
``pip install 'hand_pose_ros[teleop]'``, imported only when a HandRetargeter is built).
"""
from .frames import camera_to_operator, OPERATOR_TO_MANO, SIDES, wrist_frame_points
from .retargeter import (driven_joints, fingertip_pairs, FINGERTIPS, HandRetargeter,
                         import_retargeting_config, INSTALL_HINT, root_link)

__all__ = ['camera_to_operator', 'driven_joints', 'fingertip_pairs', 'FINGERTIPS',
           'HandRetargeter', 'import_retargeting_config', 'INSTALL_HINT', 'OPERATOR_TO_MANO',
           'root_link', 'SIDES', 'wrist_frame_points']
