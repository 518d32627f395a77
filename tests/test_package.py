"""Package-level behaviour."""

import os
import subprocess
import sys


def test_stray_profiling_timer_does_not_kill_the_process():
    """A native library leaving ITIMER_PROF armed must not terminate a run (it did, exit 155, before the fix)."""
    code = (
        "import omnitalker, signal, time\n"
        "signal.setitimer(signal.ITIMER_PROF, 0.01, 0.01)\n"
        "end = time.process_time() + 0.3\n"
        "while time.process_time() < end: pass\n"
        "print('alive')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0 and "alive" in out.stdout, (out.returncode, out.stderr[-500:])
