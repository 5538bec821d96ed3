"""Whose work a RUNNING select run is, and whether that process, on this machine, still lives.
(Trials are judged by Optuna's heartbeats: see test_smoke.)"""

import os
import socket
import subprocess
import sys

from autotl.processes import is_gone, started, this_process


def test_this_process_is_alive():
    assert not is_gone(this_process())


def test_an_exited_process_on_this_machine_is_gone():
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    assert is_gone(f"{socket.gethostname()}:{exited.stdout.strip()}")


def test_a_process_on_another_machine_cannot_be_checked_so_counts_as_alive():
    assert not is_gone("some-other-machine:1")


def test_work_that_names_no_process_is_gone():
    assert is_gone(None) and is_gone("")


def test_a_malformed_owner_on_this_machine_is_gone_not_an_error():
    assert is_gone(f"{socket.gethostname()}:not-a-pid") and is_gone(f"{socket.gethostname()}:")


def test_a_reused_pid_is_not_taken_for_the_process_that_had_it():
    """After a reboot, or in another container, the same PID names another process: the tag's start time tells them "
    "apart."""
    assert this_process() == f"{socket.gethostname()}:{os.getpid()}@{started(os.getpid())}"
    boot, tick = started(os.getpid()).split(".")
    assert is_gone(f"{socket.gethostname()}:{os.getpid()}@{boot}.{int(tick) + 1}")
    assert is_gone(f"{socket.gethostname()}:{os.getpid()}@00000000.{tick}")


def test_a_commands_budget_counts_its_start_up_and_a_programs_call_does_not(monkeypatch):
    """``autotl select`` on the command line spends its budget from the process's start (imports
    take seconds, tens of them on a busy machine); a call from a program or a test starts it at
    the call."""
    import time

    from autotl import processes
    from autotl.selection.budget import Budget

    monkeypatch.setattr(processes, "_command_started", None)
    assert processes.start_up() == 0.0
    processes.command_started()
    assert processes.start_up() > 0.5  # this test process has been importing and running for longer
    budget = Budget(60, spent=processes.start_up())
    assert budget.elapsed() >= 0.5 and budget.left() <= 59.5
    assert Budget(60, time.monotonic).elapsed() < 0.5
