#!/usr/bin/env python
"""The one prepared GPU report: DiT sampling FPS/MFU (full and two-pass CFG; fp32, bf16, bf16 + torch.compile),
renderer FPS at 512 px (lean sizes; pre-budget sizes for comparison), training frames/s and MFU, end-to-end FPS
through ``OmniTalkerPipeline`` and streaming first-chunk latency (when the pipeline has ``stream``). Random weights
of the paper sizes; each section in its own process with its own time limit; under 10 minutes on an H100/H200.

    bash scripts/gpu_report.sh [OUT_DIR]                         # the same, with a hard 10-minute cap
    python scripts/gpu_report.py --out-dir gpu_report            # -> gpu_report/gpu_report.{json,md} + section logs
    python scripts/gpu_report.py --smoke --out-dir /tmp/report   # tiny sizes on the CPU (what the test runs)
"""

from omnitalker.gpu_report.report import main

if __name__ == "__main__":
    main()
