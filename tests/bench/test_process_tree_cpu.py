"""bench.harness.procfs: the CPU time and memory of a real process tree, from /proc (a Python
child that starts a grandchild, each burning CPU; no mocks)."""

from __future__ import annotations

import subprocess
import sys

from bench.harness import procfs

# A child that burns ~0.4 s of CPU in a grandchild (waited for: reaped, its time moves into
# the child's cstime/cutime), then ~0.4 s itself, then starts a second grandchild that waits
# until its stdin closes, and says "ready" once that one is up.
_TREE = """
import subprocess, sys, time

def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass

subprocess.run([sys.executable, "-c", "import time\\nend = time.process_time() + 0.4\\n"
                "while time.process_time() < end: pass"], check=True)
burn(0.4)
waits = "import sys; print(1, flush=True); sys.stdin.read()"
PIPE = subprocess.PIPE
live = subprocess.Popen([sys.executable, "-c", waits], stdin=PIPE, stdout=PIPE)
live.stdout.readline()  # its interpreter is up
print("ready", live.pid, flush=True)
sys.stdin.read()
live.stdin.close()
live.wait()
"""


def test_it_counts_the_whole_tree_reaped_children_included_and_can_leave_the_root_out():
    child = subprocess.Popen(
        [sys.executable, "-c", _TREE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        ready, live_pid = child.stdout.readline().split()
        assert ready == "ready"
        tree = procfs.ProcessTree(child.pid)
        assert tree.pids() == [child.pid, int(live_pid)]
        assert procfs.children(child.pid) == [int(live_pid)]
        assert procfs.only_child(child.pid) == int(live_pid)
        # 0.4 s of its own and 0.4 s of the reaped grandchild; clock ticks are 10 ms.
        assert tree.cpu_seconds() >= 0.75
        without_root = procfs.ProcessTree(child.pid, include_root=False)
        assert without_root.pids() == [int(live_pid)]
        assert without_root.cpu_seconds() < 0.3  # the live grandchild only waits
        assert tree.rss_bytes() > without_root.rss_bytes() > 1_000_000
    finally:
        child.stdin.close()
        child.wait(10)
    assert procfs.cpu_seconds(child.pid) == 0.0  # gone: nothing to read
    assert procfs.rss_bytes(child.pid) == 0
