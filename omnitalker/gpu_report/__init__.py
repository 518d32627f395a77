"""The one prepared GPU report (``scripts/gpu_report.sh``): DiT sampling, renderer, training, end-to-end and
streaming speed of the paper sizes, each section in its own process with its own time limit, written as one JSON and
one markdown table. ``--smoke`` runs every section at tiny sizes on a CPU in seconds (``tests/test_gpu_report.py``)."""
