"""Whose work a RUNNING run or trial is, and whether that process still lives."""

import socket
import subprocess
import sys

from autotl.processes import is_gone, this_process


def test_this_process_is_alive():
    assert not is_gone(this_process())


def test_an_exited_process_on_this_machine_is_gone():
    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    assert is_gone(f"{socket.gethostname()}:{exited.stdout.strip()}")


def test_a_process_on_another_machine_cannot_be_checked_so_counts_as_alive():
    assert not is_gone("some-other-machine:1")


def test_work_that_names_no_process_is_gone():
    assert is_gone(None) and is_gone("")


def test_a_malformed_owner_on_this_machine_is_gone_not_an_error():
    assert is_gone(f"{socket.gethostname()}:not-a-pid") and is_gone(f"{socket.gethostname()}:")
