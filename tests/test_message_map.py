"""The message map's data from fixed deliveries: cells per life and time, aggregation, lost, late,
and the lives shown when not all fit. Its cost at 128 workers is measured in benchmarks/map_view.py."""

from __future__ import annotations

import numpy as np

from rrsim.model.message_map import SLOT_NS, MessageMap
from rrsim.tui.widgets.message_map import first_row_shown


def arr(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_cells_count_per_life_and_time_by_pusher_with_lost_and_late():
    m = MessageMap()
    m.record_deliveries("w1", 1, arr(1, 1, 2), arr(0, SLOT_NS // 2, SLOT_NS), np.zeros(3, bool))
    m.record_deliveries("w1", 2, arr(2, 2), arr(3 * SLOT_NS, 3 * SLOT_NS), np.array([True, False]))
    m.record_lost("w1", 1, 2 * SLOT_NS, 5)
    frame = m.frame(0, 3 * SLOT_NS, 4)  # one slot a column
    assert not frame.aggregated and frame.column_ns == SLOT_NS and frame.peak == 2
    life1, life2 = frame.rows
    assert (life1.counts, life1.pushers, life1.lost) == ((2, 1, 0, 0), (1, 2, 0, 0), (0, 0, 5, 0))
    assert (life2.counts, life2.pushers, life2.late) == ((0, 0, 0, 2), (0, 0, 0, 2), (0, 0, 0, 1))


def test_more_time_than_columns_is_aggregated_and_says_so():
    m = MessageMap()
    m.record_deliveries("w1", 1, np.ones(10, np.int64), np.arange(10) * SLOT_NS, np.zeros(10, bool))
    frame = m.frame(0, 9 * SLOT_NS, 3)  # ten slots in three columns: four a column
    assert frame.aggregated and frame.column_ns == 4 * SLOT_NS
    assert frame.rows[0].counts == (4, 4, 2)


def record_run(m: MessageMap, upto_slot: int, from_slot: int = 0) -> None:
    """Three lives, two pushers: w1 and w2 all along, w2's second life from slot 4, a loss at w2's end."""
    for slot in range(from_slot, upto_slot):
        for name, life in (("w1", 1), ("w2", 1 if slot < 4 else 2)):
            m.record_deliveries(name, life, arr(1, 2, 2), arr(*[slot * SLOT_NS + k for k in (1, 2, 3)]),
                                np.array([False, False, slot == 5]))
        if slot == 3:
            m.record_lost("w2", 1, 3 * SLOT_NS + 5, 7)


def test_a_frame_sums_again_only_what_changed_and_agrees_with_a_fresh_map():
    kept = MessageMap()
    record_run(kept, 6)
    kept.frame(0, 6 * SLOT_NS, 4)  # sums kept for 4 columns of 2 slots
    record_run(kept, 8, from_slot=6)  # more in the last column, and a column further
    kept.record_lost("w1", 1, SLOT_NS, 2)  # and in an old column: it is summed again too
    fresh = MessageMap()
    record_run(fresh, 8)
    fresh.record_lost("w1", 1, SLOT_NS, 2)
    for columns in (4, 3, 8):  # the same layout, then others
        assert kept.frame(0, 8 * SLOT_NS, columns) == fresh.frame(0, 8 * SLOT_NS, columns)
    rows = {(row.name, row.life): row for row in fresh.frame(0, 7 * SLOT_NS, 8).rows}  # a slot a column
    assert rows["w1", 1].lost == (0, 2, 0, 0, 0, 0, 0, 0) and rows["w2", 1].lost[3] == 7
    assert rows["w2", 2].counts == (0, 0, 0, 0, 3, 3, 3, 3) and rows["w2", 2].late[5] == 1


def test_a_frame_draws_only_the_lives_asked_for_and_says_how_many_there_are():
    m = MessageMap()
    for number in range(1, 129):
        m.record_deliveries(f"w{number}", 1, arr(1), arr(number * 1000), np.zeros(1, bool))
    frame = m.frame(0, SLOT_NS, 10, first_row=40, max_rows=12)
    assert [row.name for row in frame.rows] == [f"w{n}" for n in range(41, 53)]  # by number: w41 before w100
    assert (frame.first_row, frame.lives) == (40, 128)
    assert m.frame(0, SLOT_NS, 10, first_row=500, max_rows=12).first_row == 127  # past the end: the last life


def test_the_rows_shown_follow_the_selected_worker_and_move_as_little_as_they_can():
    lives = ["w1", "w2", "w2", *(f"w{n}" for n in range(3, 129))]  # w2 has two lives
    assert first_row_shown(lives, "w1", 0, 10) == 0
    assert first_row_shown(lives, "w12", 0, 10) == 3  # w12's life is row 12: the tenth shown
    assert first_row_shown(lives, "w5", 3, 10) == 3  # already in view: no move
    assert first_row_shown(lives, "w2", 3, 10) == 1  # above: its first life at the top
    assert first_row_shown(lives, None, 200, 10) == len(lives) - 10
