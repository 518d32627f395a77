"""A training-free renderer: a code-driven 2-D mesh warp of one real face image (``renderer=mesh``)."""
