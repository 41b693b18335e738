"""hand_pose_node parameters: one table (descriptor, range, unit) and a typed dataclass.

``PARAMETERS`` is the single source of the names, defaults, ranges and descriptions (the
node declares from it, config/hand_pose.yaml and the README mirror it). ``validate`` holds
the cross-parameter rules used both at start-up and in the set-parameters callback.
"""
from dataclasses import dataclass, fields, replace
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType)

from .conversions import INPUT_TRANSPORTS, UNDISTORT_MODES
from ..core.estimator import (DEFAULT_DETECTION_THRESHOLD, DEFAULT_FAR_MM,
                              DEFAULT_LOCALIZER_PASSES, DEFAULT_MAX_HANDS, DEFAULT_NEAR_MM,
                              DEFAULT_WEAK_DETECTION_THRESHOLD, DETECTORS, HANDEDNESS_MODES,
                              MAX_HANDS, MAX_LOCALIZER_PASSES, VERIFIED_CONFIDENCE)
from ..core.hand_tracker import (DEFAULT_MIN_CONFIDENCE, DEFAULT_REDETECT_EVERY,
                                 MAX_REDETECT_EVERY)
from ..core.image_rotation import ROTATIONS_DEG
from ..core.precision import network_threads, PRECISIONS  # noqa: F401 (re-exported)
from ..core.side_memory import DEFAULT_HALF_LIFE_FRAMES
from ..core.skeleton import JOINT_ORDERS

DEVICES_HELP = "'auto' (CUDA when present, else CPU), 'cpu', 'cuda' or 'cuda:N'"


@dataclass(frozen=True)
class NodeParams:
    """Typed values of every declared parameter (lengths in the unit named by the suffix)."""

    model: str = 'default'
    localizer: str = 'default'
    device: str = 'auto'
    precision: str = 'auto'
    threads: int = 0
    near_m: float = DEFAULT_NEAR_MM / 1000.0
    far_m: float = DEFAULT_FAR_MM / 1000.0
    cube_mm: float = 0.0
    localizer_passes: int = DEFAULT_LOCALIZER_PASSES
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    smoothing: bool = False
    smoothing_min_cutoff: float = 1.0
    smoothing_beta: float = 0.0
    smoothing_d_cutoff: float = 1.0
    publish_debug_image: bool = False
    handedness: str = 'auto'
    handedness_memory_frames: float = DEFAULT_HALF_LIFE_FRAMES
    max_hands: int = DEFAULT_MAX_HANDS
    detector: str = 'learned'
    detection_threshold: float = DEFAULT_DETECTION_THRESHOLD
    weak_detection_threshold: float = DEFAULT_WEAK_DETECTION_THRESHOLD
    redetect_every: int = DEFAULT_REDETECT_EVERY
    max_image_pixels: int = 1_500_000
    reject_nonfinite: bool = False
    depth_unit_mm: float = 1.0
    undistort: str = 'auto'
    input_transport: str = 'raw'
    input_mirrored: bool = False
    input_rotation_deg: int = 0
    reliable_input: bool = False
    diagnostics_period_s: float = 1.0
    joint_order: str = 'auto'


@dataclass(frozen=True)
class ParamSpec:
    """Declaration data of one parameter; the default lives in NodeParams."""

    name: str
    description: str
    range: Optional[Tuple[Union[int, float], Union[int, float]]] = None
    read_only: bool = False
    step: int = 1                  # integer parameters: the allowed values are range[0] + k step


PARAMETERS: Tuple[ParamSpec, ...] = (
    ParamSpec('model', "pose model: a shipped name ('default') or a checkpoint path (.pt)",
              read_only=True),
    ParamSpec('localizer', "hand localizer: 'default' (the model's own, if any), 'none', a "
              'shipped name or a checkpoint path', read_only=True),
    ParamSpec('device', 'inference device: ' + DEVICES_HELP, read_only=True),
    ParamSpec('precision', "pose network precision: 'auto' (bf16 on CPUs with native bf16, "
              "else fp32), 'fp32', 'bf16' or 'int8' (ONNX Runtime, calibrated on synthetic "
              'renders at start-up)', read_only=True),
    ParamSpec('threads', 'CPU threads of the network (torch intra-op, process-wide); 0 = '
              'auto: one per core but one, leaving a core to the ROS executor, DDS and the '
              'camera driver', (0, 256), read_only=True),
    ParamSpec('near_m', 'nearest depth considered part of the hand (m)', (0.0, 10.0)),
    ParamSpec('far_m', 'farthest depth considered part of the hand (m); must exceed near_m',
              (0.01, 20.0)),
    ParamSpec('cube_mm', "edge of the 3D crop cube around the hand (mm); 0 = the model's own",
              (0.0, 1000.0)),
    ParamSpec('localizer_passes', 'runs of the hand localizer per frame, each around the '
              'previous centre: more passes centre the crop better, each costs one localizer '
              'run', (1, MAX_LOCALIZER_PASSES)),
    ParamSpec('min_confidence', 'publish a hand only when its mean joint confidence (0..1) '
              'reaches this (a frame with none counts as low_confidence); a followed hand '
              'below it is lost, and the detector looks again', (0.0, 1.0)),
    ParamSpec('smoothing', 'One-Euro temporal smoothing of the joints, driven by header stamps'),
    ParamSpec('smoothing_min_cutoff', 'One-Euro minimum cut-off frequency (Hz): lower = '
              'smoother at rest, more lag', (0.01, 100.0)),
    ParamSpec('smoothing_beta', 'One-Euro speed coefficient (Hz per mm/s): higher = less lag '
              'in fast motion', (0.0, 1.0)),
    ParamSpec('smoothing_d_cutoff', 'One-Euro cut-off frequency of the speed estimate (Hz)',
              (0.01, 100.0)),
    ParamSpec('publish_debug_image', 'publish ~/debug_image: the network crop with the '
              'predicted skeleton (bgr8)'),
    ParamSpec('handedness', "'auto' (each hand's side from the pose network read as it is "
              "and mirrored, the better fit wins; two hands of a frame are one of each side), "
              "'right' or 'left' (every hand is taken for that side)"),
    ParamSpec('handedness_memory_frames', "'auto' handedness: half-life (frames) of the "
              'left/right evidence each hand followed from frame to frame keeps, so one '
              'ambiguous frame does not flip its side; 0 = every frame decides alone',
              (0.0, 1000.0)),
    ParamSpec('max_hands', 'most hands estimated per frame, highest detection score first; at '
              'most one per side is published', (1, MAX_HANDS)),
    ParamSpec('detector', "hand detector: 'learned' (the detector network finds up to "
              "max_hands scored hands) or 'nearest' (one hand: the nearest depth region in "
              "range); 'learned' and handedness 'auto' need a detector network"),
    ParamSpec('detection_threshold', 'lowest detection score (0..1) of a hand to estimate '
              '(learned detector)', (0.0, 1.0)),
    ParamSpec('weak_detection_threshold', 'learned detector: peaks scoring from this up to '
              'detection_threshold (0..1) are hands only where the pose network fits a hand '
              f'(mean joint confidence of its better reading >= {VERIFIED_CONFIDENCE}); at or '
              'above detection_threshold: none', (0.0, 1.0)),
    ParamSpec('redetect_every', 'while hands are followed from frame to frame (each crop '
              "starts at the hand's last centre), the learned detector runs on one frame in "
              'this many, to find new hands; it runs on every frame while no hand is followed. '
              '1 = the detector on every frame, each frame alone', (1, MAX_REDETECT_EVERY)),
    ParamSpec('max_image_pixels', 'larger frames are decimated (odd stride, intrinsics '
              'scaled) to at most this many pixels before processing', (4096, 100_000_000)),
    ParamSpec('reject_nonfinite', 'true: drop any 32FC1 frame with NaN/inf pixels; false: '
              'treat them as missing depth (REP 117) and drop only frames with none finite'),
    ParamSpec('depth_unit_mm', 'millimetres per count of a 16UC1 / mono16 depth image: 1.0 '
              "as REP 118 says; 0.125 for an SR300 / SR305 publishing its native 1/8 mm "
              'counts, 0.1 for 100 um counts. 32FC1 images are metres whatever this says',
              (0.01, 100.0)),
    ParamSpec('undistort', "depth images whose CameraInfo has a lens distortion (plumb_bob, "
              "rational_polynomial, equidistant): 'always' resample them onto the pinhole grid "
              "of K (nearest pixel), 'never' take them as rectified (intrinsics from P, as "
              "depth_image_proc does), 'auto' undistort unless the image topic's name says it "
              "is rectified ('rect': image_rect, image_rect_raw)"),
    ParamSpec('input_transport', "how depth images arrive: 'raw' (sensor_msgs/Image on "
              "depth/image) or 'compressedDepth' (image_transport's PNG compressedDepth "
              'sensor_msgs/CompressedImage on depth/image/compressedDepth, as a bag recorded '
              'from a camera over a network often holds it), decoded on the worker thread',
              read_only=True),
    ParamSpec('input_mirrored', 'true: the depth images are mirrored left-right (a '
              'selfie-style SDK setting, an image flip upstream): each is flipped back before '
              'anything else, so its CameraInfo (the camera\'s own) applies, hands keep their '
              'true sides and joints come out in the true optical frame'),
    ParamSpec('input_rotation_deg', 'a camera mounted rolled about its optical axis (upside '
              'down: 180; on its side: 90 or 270): each image is turned clockwise by this '
              'many degrees so people stand upright, as the networks were trained, and the '
              'hands come back in the camera\'s own frame',
              (ROTATIONS_DEG[0], ROTATIONS_DEG[-1]), step=ROTATIONS_DEG[1] - ROTATIONS_DEG[0]),
    ParamSpec('reliable_input', 'subscribe with RELIABLE instead of BEST_EFFORT (sensor-data) '
              'QoS, e.g. for recorded bags and tests', read_only=True),
    ParamSpec('diagnostics_period_s', 'period of the /diagnostics status (s)', (0.05, 60.0),
              read_only=True),
    ParamSpec('joint_order', "joints published on ~/joints, ~/<side>/joints and the markers: "
              "'mediapipe21' (wrist, then 4 joints per finger thumb to little: what "
              "dex-retargeting and MediaPipe users read), 'icvl16', 'hand22', ...; 'auto' = "
              "mediapipe21 from a whole-hand model (the shipped one), else the model's own "
              'joints. joint_names lists the order', read_only=True),
)
SPECS: Dict[str, ParamSpec] = {s.name: s for s in PARAMETERS}
DEFAULTS = NodeParams()

_TYPES = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
          float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}


def default_of(name: str) -> Any:
    """Default value of a parameter (from NodeParams)."""
    return getattr(DEFAULTS, name)


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """The ParameterDescriptor of one parameter (type, description, range, read_only)."""
    value = default_of(spec.name)
    desc = ParameterDescriptor(name=spec.name, type=_TYPES[type(value)],
                               description=spec.description, read_only=spec.read_only)
    if spec.range is not None and isinstance(value, float):
        desc.floating_point_range = [FloatingPointRange(
            from_value=float(spec.range[0]), to_value=float(spec.range[1]), step=0.0)]
    elif spec.range is not None:
        desc.integer_range = [IntegerRange(
            from_value=int(spec.range[0]), to_value=int(spec.range[1]), step=spec.step)]
    return desc


def validate(params: NodeParams) -> List[str]:
    """Problems with a full parameter set (empty when valid); each names expected vs found."""
    problems = []
    for spec in PARAMETERS:
        value = getattr(params, spec.name)
        if spec.range is not None and not spec.range[0] <= value <= spec.range[1]:
            problems.append(f'{spec.name} must be in [{spec.range[0]}, {spec.range[1]}], '
                            f'found {value}')
        elif spec.step > 1 and (value - spec.range[0]) % spec.step:
            problems.append(f'{spec.name} must be {spec.range[0]} + a multiple of {spec.step}, '
                            f'found {value}')
    if params.near_m >= params.far_m:
        problems.append(f'need near_m < far_m, found near_m={params.near_m} and '
                        f'far_m={params.far_m}')
    for name, allowed in (('handedness', HANDEDNESS_MODES), ('detector', DETECTORS),
                          ('precision', PRECISIONS), ('joint_order', JOINT_ORDERS),
                          ('undistort', UNDISTORT_MODES),
                          ('input_transport', INPUT_TRANSPORTS)):
        if getattr(params, name) not in allowed:
            problems.append(f'{name} must be one of {allowed}, found {getattr(params, name)!r}')
    if not params.model:
        problems.append('model must name a shipped model or a checkpoint path, found ""')
    return problems


def input_handling(params: NodeParams) -> str:
    """What the node does to each image before estimating it, for its ready line ('' when
    nothing): flipped back (input_mirrored), then turned (input_rotation_deg)."""
    steps = (['flipped left-right back (input_mirrored)'] if params.input_mirrored else []) + (
        [f'turned {params.input_rotation_deg} deg clockwise, hands turned back '
         '(input_rotation_deg)'] if params.input_rotation_deg else [])
    return '; each image ' + ', then '.join(steps) if steps else ''


def with_changes(params: NodeParams, changes: Iterable[Tuple[str, Any]]) -> NodeParams:
    """``params`` with (name, value) pairs applied; unknown names raise KeyError."""
    known = {f.name for f in fields(NodeParams)}
    updates = {}
    for name, value in changes:
        if name not in known:
            raise KeyError(name)
        updates[name] = value
    return replace(params, **updates)


def markdown_table() -> str:
    """The parameter table for the README (name, type, default, range, description)."""
    rows = ['| name | type | default | range | description |', '|---|---|---|---|---|']
    for spec in PARAMETERS:
        value = default_of(spec.name)
        rng = f'[{spec.range[0]}, {spec.range[1]}]' if spec.range else ''
        rng += f' step {spec.step}' if spec.step > 1 else ''
        ro = ' (read-only)' if spec.read_only else ''
        kind = {bool: 'bool', int: 'integer', float: 'double', str: 'string'}[type(value)]
        shown = str(value).lower() if isinstance(value, bool) else value
        rows.append(f'| `{spec.name}` | {kind} | `{shown}` | {rng} | '
                    f'{spec.description}{ro} |')
    rows.append('| `joint_names` | string[] | from joint_order | | joint order of ~/joints, '
                '~/<side>/joints, ~/joints_cloud and ~/markers (read-only) |')
    return '\n'.join(rows)
