"""SideMemory: a followed hand keeps its side through single contrary frames."""
import numpy as np
import pytest

from hand_pose_ros.core.side_memory import SideMemory

HAND = np.array([[0.0, 0.0, 500.0]])


def _sides(memory: SideMemory, evidence, step_s: float = 1 / 30, centre=HAND):
    """Feed one hand's per-frame left evidence; the side decided at each frame."""
    out = []
    for i, e in enumerate(evidence):
        tracks = memory.match(centre, i * step_s)
        total = memory.priors(tracks) + e
        out.append('left' if total[0] > 0 else 'right')
        memory.update(tracks, centre, np.array([e]), i * step_s)
    return out


def test_one_contrary_frame_does_not_flip_a_followed_hand():
    sides = _sides(SideMemory(half_life_frames=10), [0.05] * 10 + [-0.08] + [0.05] * 3)
    assert sides == ['left'] * 14
    alone = _sides(SideMemory(half_life_frames=1e-3), [0.05] * 10 + [-0.08] + [0.05] * 3)
    assert alone[10] == 'right'                  # without memory the frame flips it


def test_a_hand_that_keeps_reading_the_other_way_turns():
    sides = _sides(SideMemory(half_life_frames=5), [0.05] * 10 + [-0.05] * 20)
    turn = sides.index('right')
    assert sides[:10] == ['left'] * 10 and 10 < turn < 20 and set(sides[turn:]) == {'right'}


def test_a_far_hand_is_another_hand_and_old_tracks_expire():
    memory = SideMemory(half_life_frames=10, gate_mm=100, timeout_s=0.5)
    _sides(memory, [0.05] * 5)
    far = HAND + [[250.0, 0.0, 0.0]]
    assert memory.match(far, 0.2) == [None]                # beyond the gate: a new hand
    near = HAND + [[40.0, 30.0, 0.0]]
    assert memory.match(near, 0.2) == [0] and memory.priors([0])[0] > 0.1
    assert memory.match(near, 0.2 + 0.6) == [None] and not memory.tracks   # timed out
    _sides(memory, [0.05] * 5)
    assert memory.match(HAND, -1.0) == [None] and not memory.tracks    # time went back


def test_two_hands_keep_their_own_tracks():
    memory = SideMemory(half_life_frames=10)
    right, left = HAND + [[-150.0, 0, 0]], HAND + [[150.0, 0, 0]]
    for i in range(5):
        both = np.concatenate([right, left]) + [[5.0 * i, 0, 0]]
        tracks = memory.match(both, i / 30)
        memory.update(tracks, both, np.array([-0.05, 0.05]), i / 30)
    swapped = np.concatenate([left, right]) + [[25.0, 0, 0]]
    tracks = memory.match(swapped, 5 / 30)
    assert tracks == [1, 0]
    prior = memory.priors(tracks)
    assert prior[0] > 0 > prior[1]


def test_bad_settings_are_refused():
    for kwargs in ({'half_life_frames': 0}, {'gate_mm': -1}, {'timeout_s': 0}):
        with pytest.raises(ValueError, match='must be positive'):
            SideMemory(**kwargs)
    for kwargs in ({'settle_after': 0}, {'one_way_frames': -1}):
        with pytest.raises(ValueError, match='settle_after'):
            SideMemory(**kwargs)


def _follow(memory: SideMemory, readings, step_s: float = 1 / 30, t0_s: float = 0.0):
    """One hand followed with a both-way reading per frame (its left margin) taken only when
    the memory does not read it one way; per frame: 'both' or the side read alone."""
    out = []
    for i, e in enumerate(readings):
        t_s = t0_s + i * step_s
        tracks = memory.match(HAND, t_s)
        alone = memory.settled(tracks)[0]
        if alone:
            out.append('left' if alone > 0 else 'right')
            memory.update(tracks, HAND, np.zeros(1), t_s, left=[alone > 0], measured=[False])
        else:
            out.append('both')
            left = bool(memory.priors(tracks)[0] + e > 0)
            memory.update(tracks, HAND, np.array([e]), t_s, left=[left])
    return out


def test_a_settled_hand_is_read_one_way_and_checked_again():
    memory = SideMemory(half_life_frames=10, settle_after=3, one_way_frames=3)
    reads = _follow(memory, [0.05] * 12)
    # 3 agreeing both-way readings settle it; then 3 frames one way, a check, 3 one way ...
    assert reads == ['both'] * 3 + ['left'] * 3 + ['both'] + ['left'] * 3 + ['both', 'left']
    # frames read one way add no evidence and do not fade it
    (track,) = memory.tracks
    assert track.one_way == 1
    before = track.evidence
    assert _follow(memory, [-0.5], t0_s=12 / 30) == ['left']     # not read: not taken in
    assert memory.tracks[0].evidence == before and memory.tracks[0].one_way == 2
    assert memory.read_one_way(12 / 30) == 1 and memory.read_one_way(11 / 30) == 0


def test_a_disagreeing_check_unsettles_and_a_wrong_side_still_turns():
    memory = SideMemory(half_life_frames=3, settle_after=3, one_way_frames=3)
    reads = _follow(memory, [0.05] * 6 + [-0.05] * 30)
    assert reads[:6] == ['both'] * 3 + ['left'] * 3
    assert reads[6] == 'both'                    # the check reads right: left no longer settled
    assert reads[7] == 'both'                    # ... so it is read both ways again
    assert 'right' in reads and reads[-1] == 'right'
    turned = reads.index('right')
    assert set(reads[turned:]) <= {'right', 'both'}


def test_one_way_frames_zero_reads_every_frame_both_ways():
    memory = SideMemory(half_life_frames=10, one_way_frames=0)
    assert _follow(memory, [0.05] * 10) == ['both'] * 10
