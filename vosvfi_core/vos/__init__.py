"""Video object segmentation for VOS-aware training: the frozen STCN teacher, a weight-free propagator, their registry."""
