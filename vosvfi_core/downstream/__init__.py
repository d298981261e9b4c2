"""Downstream checks of interpolated videos: do objects stay usable for other vision methods?

Modules (import them by their full names; this package imports nothing, so that the config,
which reads :mod:`.registry`, stays light):

- :mod:`.registry` and :mod:`.foreground`: the downstream-check registry and the foreground PSNR check;
- :mod:`.rebuild`: a video's odd frames rebuilt from their even neighbours by an interpolator;
- :mod:`.davis_measures`, :mod:`.davis_check`: DAVIS J, F and J&F through a VOS propagator;
- :mod:`.tracking_measures`, :mod:`.trackers`, :mod:`.tracking_check`: OTB success/precision of OpenCV trackers;
- :mod:`.plots`: the success and precision plots.
"""
