"""The bench's sections, one module each, run in this order by :func:`bench.cli.main`:

``methods`` (:mod:`bench.sections.methods`)
    the four interaction methods on the same selected examples, per architecture and size.
``scaling`` (:mod:`bench.sections.scaling`)
    ``raw`` and ``fis`` time and peak memory against the number of sequences and their length.
``training`` (:mod:`bench.sections.training`)
    sequences/s of the jit-compiled ``train_step`` per architecture and length.
``peers`` (:mod:`bench.sections.peers`)
    the PyTorch/captum peer of the basic model against ours (training step, input IG).
``device`` (:mod:`bench.sections.device`)
    device, versions, parameter counts and FLOP figures of the sections above.

Each ``run_<section>`` returns a JSON-able dict with ``status`` (``ok`` or ``skipped``) that
:mod:`bench.report` renders.
"""

from __future__ import annotations

#: Section names in run order (``--sections``); each is a module ``bench.sections.<name>`` with a
#: ``run_<name>`` function.
SECTIONS = ("methods", "scaling", "training", "peers", "device")
