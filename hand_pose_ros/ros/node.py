"""hand_pose_node: depth Image + CameraInfo in, 3D hand joints out (PoseArray for the best hand
and per side, PointCloud2, MarkerArray, optional debug image, diagnostics).

Phases (as yolo_ros): declare and validate parameters, load the model, create publishers,
subscribe, start the worker. Callbacks only store the newest frame; a worker thread runs the
estimator (latest frame wins, older unprocessed frames are counted as dropped) and publishes.
"""
import sys
import threading
from typing import Dict, FrozenSet, List, Optional

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import (InvalidParameterTypeException, InvalidParameterValueException,
                              ParameterException)
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from . import conversions as conv
from .diagnostics import diagnostic_array, no_input_message, PipelineStats, ThrottledWarnings
from .node_params import (default_of, descriptor, input_handling, network_threads, NodeParams,
                          PARAMETERS, validate, with_changes)
from .outputs import frame_messages, TOPICS
from .pipeline import FramePipeline, FrameResult, INFO_NOTES, warm_up
from .spin import run_node
from .worker import LatestSlot, Worker
from .wrist_outputs import tf_available, TF_QOS, TF_TOPIC, TFMessage, wrist_status
from ..core.checkpoint import CheckpointError
from ..core.drawing import debug_patch
from ..core.estimator import HandPoseEstimator
from ..core.wrist import has_wrist_frame
from ..synthetic.calibration import int8_calibration

NODE_NAME = 'hand_pose_node'
MAX_CAMERA_FRAMES = 16       # CameraInfo kept per frame_id (bounded memory)
WARN_PERIOD_S = 5.0
NO_INPUT_WARN_PERIOD_S = 5.0  # console warning while no depth image has arrived yet
WORKER_JOIN_S = 30.0          # the frame in flight finishes before the node's handles go


class StartupError(RuntimeError):
    """A user-caused start-up failure (parameters, model file); one line, no traceback."""


class HandPoseNode(Node):
    """Translates depth frames to joints with a HandPoseEstimator running on a worker thread."""

    def __init__(self, **kwargs) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._worker: Optional[Worker] = None
        self.pipeline: Optional[FramePipeline] = None
        self.pub_debug = None
        self._debug_lock = threading.Lock()
        try:
            self._setup()
        except BaseException:
            self.destroy_node()
            raise

    def _setup(self) -> None:
        """Declare -> validate -> load the model -> publishers -> subscriptions -> worker."""
        self.params = self._declare_parameters()
        problems = validate(self.params)
        if problems:
            raise StartupError('invalid parameters: ' + '; '.join(problems))
        estimator = self._load_estimator(self.params)
        try:
            self.pipeline = FramePipeline(estimator, self.params)
        except ValueError as exc:   # e.g. handedness 'auto' without a detector network
            raise StartupError(f'cannot configure the estimator: {exc}') from None
        est = self.pipeline.estimator
        warm_ms = warm_up(est)
        self.joint_set = est.joint_set
        names = ParameterDescriptor(description='order of the published joints '
                                    f'({self.joint_set.name}, from joint_order)', read_only=True)
        self.declare_parameter('joint_names', list(self.joint_set.joint_names), names,
                               ignore_override=True)
        self.stats = PipelineStats()
        self.warnings = ThrottledWarnings(self.get_logger().warning, WARN_PERIOD_S)
        self._camera_infos: Dict[str, CameraInfo] = {}
        self._visible: FrozenSet[str] = frozenset()   # sides published on the last frame

        self._outputs = {topic: self.create_publisher(msg_type, f'~/{topic}', 10)
                         for topic, msg_type in TOPICS.items()}
        if tf_available() and has_wrist_frame(self.joint_set):   # wrists as TF frames
            self._outputs[TF_TOPIC] = self.create_publisher(TFMessage, TF_TOPIC, TF_QOS)
        self.get_logger().info(wrist_status(self.joint_set, tf_available()))
        self._advertise_debug_image(self.params.publish_debug_image)
        self.pub_diag = self.create_publisher(DiagnosticArray, '/diagnostics', 10)

        qos = conv.depth_qos(self.params.reliable_input)
        overrides = QoSOverridingOptions.with_default_policies()
        self._slot: LatestSlot = LatestSlot()
        info_sub = self.create_subscription(CameraInfo, 'depth/camera_info',
                                            self._on_camera_info, qos,
                                            qos_overriding_options=overrides)
        # image_transport's naming: the remapped base topic, then /compressedDepth
        base_topic = self.resolve_topic_name('depth/image')
        image_topic, image_type = base_topic, Image
        if self.params.input_transport == conv.COMPRESSED_DEPTH:
            image_topic, image_type = f'{base_topic}/{conv.COMPRESSED_DEPTH}', CompressedImage
        image_sub = self.create_subscription(image_type, image_topic, self._on_image, qos,
                                             qos_overriding_options=overrides)
        self.input_topics = (image_sub.topic_name, info_sub.topic_name)
        self.input_type = f'sensor_msgs/{image_type.__name__}'
        # undistort 'auto' reads the name of the image topic (the base, for compressedDepth)
        self.pipeline.image_topic = base_topic
        self._told: set = set()                             # INFO_NOTES logged once each
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(self.params.diagnostics_period_s, self._publish_diagnostics)
        # steady clock: with use_sim_time and no bag playing, ROS time (and its timers) stand
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._waiting_since_ns = self._steady.now().nanoseconds
        self._no_input_timer = self.create_timer(NO_INPUT_WARN_PERIOD_S, self._warn_no_input,
                                                 clock=self._steady)
        self._worker = Worker(self._slot, self._process, self._on_worker_error,
                              keep_running=self.context.ok)
        self._worker.start()
        self.get_logger().info(
            f'ready: model {getattr(est, "model_path", self.params.model)} '
            f'({self.joint_set.name}, {self.joint_set.num_joints} joints) on {est.device}; '
            f'depth range [{self.params.near_m}, {self.params.far_m}] m; '
            f'{"reliable" if self.params.reliable_input else "sensor-data"} input QoS; '
            f'warm-up frame {warm_ms:.0f} ms; listening on {self.input_topics[0]} '
            f'({self.input_type}) and {self.input_topics[1]} (sensor_msgs/CameraInfo)'
            f'{input_handling(self.params)}')

    def _declare_parameters(self) -> NodeParams:
        """Declare every parameter of the table and read them into a NodeParams."""
        try:
            for spec in PARAMETERS:
                self.declare_parameter(spec.name, default_of(spec.name), descriptor(spec))
        except (InvalidParameterTypeException, InvalidParameterValueException,
                ParameterException) as exc:
            raise StartupError(f'invalid parameter: {exc}') from None
        return NodeParams(**{s.name: self.get_parameter(s.name).value for s in PARAMETERS})

    @staticmethod
    def _load_estimator(params: NodeParams) -> HandPoseEstimator:
        """The estimator from the model/localizer/device parameters; StartupError on failure."""
        localizer = None if params.localizer.lower() == 'none' else params.localizer
        try:
            return HandPoseEstimator.from_files(params.model, localizer, device=params.device,
                                                threads=network_threads(params.threads),
                                                precision=params.precision,
                                                joint_order=params.joint_order,
                                                calibration=int8_calibration(params.precision))
        except (CheckpointError, FileNotFoundError) as exc:
            raise StartupError(f'cannot load the model (model={params.model!r}, '
                               f'localizer={params.localizer!r}): {exc}') from None
        except ValueError as exc:  # e.g. device 'cuda' without CUDA
            raise StartupError(f'cannot create the estimator: {exc}') from None

    # --- callbacks: store only -------------------------------------------------------------
    def _on_camera_info(self, msg: CameraInfo) -> None:
        """Keep the latest CameraInfo per frame_id."""
        if msg.header.frame_id not in self._camera_infos and \
                len(self._camera_infos) >= MAX_CAMERA_FRAMES:
            self._camera_infos.pop(next(iter(self._camera_infos)))
        self._camera_infos[msg.header.frame_id] = msg

    def _on_image(self, msg: Image) -> None:
        """Pair with the latest CameraInfo of the same frame and hand over (newest wins)."""
        info = self._camera_infos.get(msg.header.frame_id)
        if not self._no_input_timer.is_canceled():   # the first image: stop the warning
            self._no_input_timer.cancel()
        self.stats.record_input(dropped_previous=self._slot.put((msg, info)))

    def _on_set_parameters(self, changes: List[Parameter]) -> SetParametersResult:
        """Validate runtime changes as a whole; apply valid ones to the estimator."""
        ours = [(p.name, p.value) for p in changes if hasattr(self.params, p.name)]
        if not ours:
            return SetParametersResult(successful=True)
        new = with_changes(self.params, ours)
        problems = validate(new)
        if not problems:
            try:
                self.pipeline.configure(new)
            except ValueError as exc:
                problems = [str(exc)]
        if problems:
            reason = '; '.join(problems)
            self.get_logger().warning(f'parameter change refused: {reason}')
            return SetParametersResult(successful=False, reason=reason)
        self.params = new
        self._advertise_debug_image(new.publish_debug_image)
        self.get_logger().info('parameters updated: ' + ', '.join(
            f'{n}={v!r}' for n, v in ours))
        return SetParametersResult(successful=True)

    # --- worker thread ---------------------------------------------------------------------
    def _process(self, item) -> None:
        """Estimate one frame and publish its outputs, or count why it has none."""
        image, info = item
        result = self.pipeline.process(image, info)
        if not self.context.ok():   # shutting down while this frame ran
            return
        for key, message in result.notes:
            self.stats.record_handled(key)
            if key not in INFO_NOTES:
                self.warnings.warn(key, message)
            elif key not in self._told:
                self._told.add(key)
                self.get_logger().info(message)
        if not result.ok:
            self.stats.record_rejected(result.reason)
            self.warnings.warn(result.reason, f'frame skipped ({result.reason}): '
                               f'{result.message}')
        self._publish(image.header, result)

    def _publish(self, header: Header, result: FrameResult) -> None:
        """Publish the hands (or the 'lost' messages of the sides that had one) and the debug
        image, stamped with the input header."""
        for topic, msg in frame_messages(result.hands, self._visible, self.joint_set, header,
                                         tf=TF_TOPIC in self._outputs):
            self._outputs[topic].publish(msg)
        self._visible = frozenset(h.side for h in result.hands)
        if not result.ok:
            return
        pose = result.pose
        if self.pipeline.params.publish_debug_image:
            with self._debug_lock:
                if self.pub_debug is not None:
                    crop = debug_patch(pose.patch, pose.patch_uv, self.joint_set)
                    self.pub_debug.publish(conv.bgr_image(crop, header))
        now_ns = self.get_clock().now().nanoseconds
        stamp_ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        self.stats.record_output((now_ns - stamp_ns) / 1e6, pose.timings.get('total', 0.0),
                                 [h.side for h in result.hands])

    def _advertise_debug_image(self, enabled: bool) -> None:
        """Advertise ~/debug_image only while publish_debug_image is true."""
        with self._debug_lock:
            if enabled and self.pub_debug is None:
                self.pub_debug = self.create_publisher(Image, '~/debug_image', 2)
            elif not enabled and self.pub_debug is not None:
                self.destroy_publisher(self.pub_debug)
                self.pub_debug = None

    def _warn_no_input(self) -> None:
        """Every NO_INPUT_WARN_PERIOD_S until the first depth image: say where the node listens
        and who publishes there (cancelled by the first image)."""
        if self.stats.frames_in:
            return
        waited_s = (self._steady.now().nanoseconds - self._waiting_since_ns) / 1e9
        depth, info = self.input_topics
        self.get_logger().warning(no_input_message(
            depth, info, waited_s, self.count_publishers(depth), self.count_publishers(info),
            self.params.reliable_input))

    def _on_worker_error(self, exc: BaseException) -> None:
        """An unexpected error in one frame: count it, log it (throttled), keep running."""
        if not self.context.ok():
            return
        self.stats.record_rejected('internal_error')
        self.warnings.warn('internal_error', f'frame failed: {exc.__class__.__name__}: {exc}')

    def _publish_diagnostics(self) -> None:
        """About 1 Hz: rates, latency percentiles, drops and rejections by reason."""
        header = Header(stamp=self.get_clock().now().to_msg())
        est = self.pipeline.estimator
        extra = {'device': str(est.device), 'model': str(getattr(est, 'model_path', '')),
                 'joint_set': self.joint_set.name}
        self.pub_diag.publish(diagnostic_array(
            self.stats.snapshot(), header,
            f'{self.get_fully_qualified_name().lstrip("/")}: hand pose pipeline',
            str(est.device), extra))

    def destroy_node(self) -> None:
        """Orderly clean-up: stop and join the worker (the frame in flight finishes), then
        destroy publishers, subscriptions and timers, then drop the networks (torch modules,
        ONNX Runtime sessions) while the interpreter and the rclpy context are still whole."""
        worker, self._worker = self._worker, None
        if worker is not None and not worker.stop(WORKER_JOIN_S):
            self.get_logger().error(f'the inference thread did not finish its frame within '
                                    f'{WORKER_JOIN_S:.0f} s; the exit waits for it')
        super().destroy_node()
        self.pipeline = None


def main(args: Optional[List[str]] = None) -> int:
    """Run the node until Ctrl-C or shutdown; 1 with one error line on a start-up failure."""
    return run_node(HandPoseNode, (StartupError,), NODE_NAME, args)


if __name__ == '__main__':
    sys.exit(main())
