"""Evaluation of the paper's metrics (Tables 1, 2, 4; Figs. 2, 3, 9).

One small module per metric family. Every family implements :class:`omnitalker.eval.metric.Metric` and registers
itself by name, so ``scripts/evaluate.py`` scores any test set with any subset of metrics, per item (cached) and then
over the whole set (Fréchet distances).
"""
