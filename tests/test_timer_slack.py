"""A worker's sleeps end as soon as they are due: its timer slack is 1 ns, not Linux's 50 us."""

from __future__ import annotations

import ctypes
import sys

import pytest

from rrsim.child.work import PR_GET_TIMERSLACK, Work


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_a_worker_s_work_tightens_its_thread_s_timer_slack():
    Work(10.0, 10.0, 1.0)  # as every worker loop builds it, in the thread that sleeps
    assert ctypes.CDLL(None).prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == 1
