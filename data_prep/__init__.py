"""Data preparation: turning raw talking videos into the training corpus (``prepare`` and its stages), and the
embedded synthetic talking-head corpus generator (:mod:`data_prep.synthetic`) used by tests and the quick start."""
