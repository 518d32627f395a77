"""OmniTalker: text + reference video -> speech and a lip-synced talking head, generated jointly.

Reimplementation of "OmniTalker: One-shot Real-time Text-Driven Talking Audio-Video Generation With
Multimodal Style Mimicking" (arXiv 2504.02433). See README.md and ../shared/SPEC.md.
"""

__version__ = "0.1.0"


def _ignore_stray_profiling_signal() -> None:
    """Some native dependency (seen with the face/data-prep stack loaded) can leave a profiling timer (ITIMER_PROF)
    armed; SIGPROF's default action then kills the process mid-run ("Profiling timer expired", exit 155). Ignore
    the signal unless a profiler has installed its own handler (profilers that install one are unaffected)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGPROF) == signal.SIG_DFL:
        signal.signal(signal.SIGPROF, signal.SIG_IGN)


_ignore_stray_profiling_signal()
