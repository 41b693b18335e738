"""Joint sets (ICVL16, NYU14, MSRA21, HAND22, MEDIAPIPE21): names, bones, fingers, colours.

Every other module imports these: the network's output order, the evaluator's per-joint
table, the renderer's bones and the RViz markers all come from here.
"""
from dataclasses import dataclass
from typing import Dict, Tuple

# Finger ids used by every joint set. 0 is the palm/wrist.
PALM, THUMB, INDEX, MIDDLE, RING, LITTLE = range(6)
FINGER_NAMES: Tuple[str, ...] = ('palm', 'thumb', 'index', 'middle', 'ring', 'little')
# One RGB colour (0..1) per finger, shared by markers, debug images and plots.
FINGER_COLORS: Tuple[Tuple[float, float, float], ...] = (
    (0.85, 0.85, 0.85),  # palm: light grey
    (0.90, 0.20, 0.20),  # thumb: red
    (0.95, 0.65, 0.10),  # index: orange
    (0.20, 0.75, 0.25),  # middle: green
    (0.20, 0.45, 0.95),  # ring: blue
    (0.70, 0.30, 0.85),  # little: purple
)


@dataclass(frozen=True)
class JointSet:
    """A named, ordered set of hand joints with its kinematic tree."""

    name: str
    joint_names: Tuple[str, ...]
    parents: Tuple[int, ...]  # parent index of each joint; -1 for the root
    fingers: Tuple[int, ...]  # finger id (PALM..LITTLE) of each joint

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        if len(self.parents) != n or len(self.fingers) != n:
            raise ValueError(f'{self.name}: names, parents and fingers must have {n} entries')
        for j, p in enumerate(self.parents):
            if not -1 <= p < n or p == j:
                raise ValueError(f'{self.name}: joint {j} has invalid parent {p}')

    @property
    def num_joints(self) -> int:
        """Number of joints J."""
        return len(self.joint_names)

    @property
    def bones(self) -> Tuple[Tuple[int, int], ...]:
        """(parent, child) index pairs, one per non-root joint."""
        return tuple((p, j) for j, p in enumerate(self.parents) if p >= 0)

    @property
    def root(self) -> int:
        """Index of the root joint."""
        return self.parents.index(-1)

    def color(self, joint: int) -> Tuple[float, float, float]:
        """RGB colour (0..1) of a joint's finger."""
        return FINGER_COLORS[self.fingers[joint]]

    def index(self, joint_name: str) -> int:
        """Index of a joint by name; raises KeyError naming the joint set."""
        try:
            return self.joint_names.index(joint_name)
        except ValueError:
            raise KeyError(f'{self.name} has no joint {joint_name!r}') from None


def _finger_chain(prefix: str, finger: int, parts: Tuple[str, ...], root: int,
                  start: int) -> Tuple[list, list, list]:
    """Names, parents and finger ids of a chain of joints hanging off ``root``."""
    names = [f'{prefix}_{p}' for p in parts]
    parents = [root] + [start + i for i in range(len(parts) - 1)]
    return names, parents, [finger] * len(parts)


def _build(name: str, head: Tuple[Tuple[str, int, int], ...],
           chains: Tuple[Tuple[str, int, Tuple[str, ...], int], ...]) -> JointSet:
    """Assemble a JointSet from root joints (name, parent, finger) and finger chains."""
    names, parents, fingers = [], [], []
    for n, p, f in head:
        names.append(n)
        parents.append(p)
        fingers.append(f)
    for prefix, finger, parts, root in chains:
        cn, cp, cf = _finger_chain(prefix, finger, parts, root, len(names))
        names += cn
        parents += cp
        fingers += cf
    return JointSet(name, tuple(names), tuple(parents), tuple(fingers))


# ICVL: palm centre, then root/mid/tip of thumb, index, middle, ring, little.
ICVL16 = _build('icvl16', (('palm', -1, PALM),), tuple(
    (f, fid, ('root', 'mid', 'tip'), 0)
    for f, fid in (('thumb', THUMB), ('index', INDEX), ('middle', MIDDLE),
                   ('ring', RING), ('little', LITTLE))))

# NYU: 14 of the 36 annotated joints, ids 0 3 6 9 12 15 18 21 24 25 27 30 31 32 in that
# order: little tip/mid, ring tip/mid, middle tip/mid, index tip/mid, thumb tip/mid/root,
# two wrist points, palm centre (the root).
NYU14_SOURCE_IDS: Tuple[int, ...] = (0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30, 31, 32)
NYU14 = JointSet(
    'nyu14',
    ('little_tip', 'little_mid', 'ring_tip', 'ring_mid', 'middle_tip', 'middle_mid',
     'index_tip', 'index_mid', 'thumb_tip', 'thumb_mid', 'thumb_root',
     'wrist_1', 'wrist_2', 'palm'),
    (1, 13, 3, 13, 5, 13, 7, 13, 9, 10, 13, 13, 13, -1),
    (LITTLE, LITTLE, RING, RING, MIDDLE, MIDDLE, INDEX, INDEX, THUMB, THUMB, THUMB,
     PALM, PALM, PALM),
)

# MSRA15: wrist, then mcp/pip/dip/tip of index, middle, ring, little, thumb.
MSRA21 = _build('msra21', (('wrist', -1, PALM),), tuple(
    (f, fid, ('mcp', 'pip', 'dip', 'tip'), 0)
    for f, fid in (('index', INDEX), ('middle', MIDDLE), ('ring', RING),
                   ('little', LITTLE), ('thumb', THUMB))))

# The four joints of every finger, thumb first, each chain hanging off the wrist (joint 0):
# the whole hand and MediaPipe-21 share them.
_WHOLE_HAND_FINGERS = tuple(
    (f, fid, parts, 0)
    for f, fid, parts in (('thumb', THUMB, ('cmc', 'mcp', 'ip', 'tip')),
                          ('index', INDEX, ('mcp', 'pip', 'dip', 'tip')),
                          ('middle', MIDDLE, ('mcp', 'pip', 'dip', 'tip')),
                          ('ring', RING, ('mcp', 'pip', 'dip', 'tip')),
                          ('little', LITTLE, ('mcp', 'pip', 'dip', 'tip'))))

# The synthetic kinematic hand: wrist, palm centre, 4 joints per finger.
HAND22 = _build('hand22', (('wrist', -1, PALM), ('palm', 0, PALM)), _WHOLE_HAND_FINGERS)

# MediaPipe Hands / MANO order, what robot-hand retargeting (dex-retargeting) reads: 0 wrist;
# 1-4 thumb CMC, MCP, IP, tip; 5-8 index MCP, PIP, DIP, tip; 9-12 middle; 13-16 ring; 17-20
# little ("pinky" in MediaPipe). Every finger hangs off the wrist.
MEDIAPIPE21 = _build('mediapipe21', (('wrist', -1, PALM),), _WHOLE_HAND_FINGERS)

JOINT_SETS: Dict[str, JointSet] = {
    s.name: s for s in (ICVL16, NYU14, MSRA21, HAND22, MEDIAPIPE21)}

# Which HAND22 joint each dataset joint is taken from (synthetic labels in dataset order).
# ICVL's three finger joints are root = MCP (CMC-side MCP for the thumb), mid = PIP (IP for
# the thumb) and tip; its palm joint is the palm centre. NYU's "mid" is the PIP joint and its
# two wrist points are approximated by the wrist.
FROM_HAND22: Dict[str, Tuple[int, ...]] = {
    'hand22': tuple(range(22)),
    'icvl16': tuple(HAND22.index(n) for n in (
        'palm', 'thumb_mcp', 'thumb_ip', 'thumb_tip',
        'index_mcp', 'index_pip', 'index_tip', 'middle_mcp', 'middle_pip', 'middle_tip',
        'ring_mcp', 'ring_pip', 'ring_tip', 'little_mcp', 'little_pip', 'little_tip')),
    'nyu14': tuple(HAND22.index(n) for n in (
        'little_tip', 'little_pip', 'ring_tip', 'ring_pip', 'middle_tip', 'middle_pip',
        'index_tip', 'index_pip', 'thumb_tip', 'thumb_ip', 'thumb_mcp',
        'wrist', 'wrist', 'palm')),
    'msra21': tuple(HAND22.index(n) for n in (
        'wrist', 'index_mcp', 'index_pip', 'index_dip', 'index_tip',
        'middle_mcp', 'middle_pip', 'middle_dip', 'middle_tip',
        'ring_mcp', 'ring_pip', 'ring_dip', 'ring_tip',
        'little_mcp', 'little_pip', 'little_dip', 'little_tip',
        'thumb_cmc', 'thumb_mcp', 'thumb_ip', 'thumb_tip')),
    'mediapipe21': tuple(HAND22.index(n) for n in MEDIAPIPE21.joint_names),
}


# The joints whose 3D box centre is "the hand centre" (core.crop.hand_center_uvd): the point
# the detector and localizer find and the pose crop is centred on. For the whole hand it is the
# ICVL16 selection (palm and fingers, no wrist), so every model and every scene label shares one
# centre; other joint sets use all their joints.
CENTER_JOINTS: Dict[str, Tuple[int, ...]] = {'hand22': FROM_HAND22['icvl16']}


def center_joints(joint_set: str) -> Tuple[int, ...]:
    """Indices of ``joint_set``'s joints that define the hand centre (see CENTER_JOINTS)."""
    return CENTER_JOINTS.get(joint_set, tuple(range(get_joint_set(joint_set).num_joints)))


def joint_selection(source: str, target: str) -> Tuple[int, ...]:
    """Indices into ``source`` joints that give the ``target`` joints in order: all of them
    when the sets are the same, a selection when ``source`` is the whole hand (HAND22);
    ValueError otherwise (e.g. ICVL16 has no wrist and no DIP joints for MediaPipe-21)."""
    get_joint_set(source), get_joint_set(target)
    if source == target:
        return tuple(range(get_joint_set(source).num_joints))
    if source == 'hand22' and target in FROM_HAND22:
        return FROM_HAND22[target]
    raise ValueError(f'a network predicting {source} joints cannot give {target} joints; '
                     f'only a whole-hand (hand22) network gives {sorted(FROM_HAND22)}')


# The order robot software reads (dex-retargeting, MediaPipe users): what 'auto' publishes
# when the network predicts the whole hand.
ROBOT_JOINT_ORDER = 'mediapipe21'
JOINT_ORDERS: Tuple[str, ...] = ('auto',) + tuple(JOINT_SETS)


def resolve_joint_order(requested: str, network_joint_set: str) -> str:
    """The joint set to output: ``requested``, or for 'auto' MediaPipe-21 from a whole-hand
    network and the network's own joints from any other; ValueError for an unknown name."""
    if requested not in JOINT_ORDERS:
        raise ValueError(f'joint_order must be one of {JOINT_ORDERS}, found {requested!r}')
    if requested != 'auto':
        return requested
    return ROBOT_JOINT_ORDER if network_joint_set == 'hand22' else network_joint_set


def get_joint_set(name: str) -> JointSet:
    """Look a joint set up by name (case-insensitive); the error lists the known names."""
    key = name.lower()
    if key not in JOINT_SETS:
        raise KeyError(f'unknown joint set {name!r}; known: {sorted(JOINT_SETS)}')
    return JOINT_SETS[key]
