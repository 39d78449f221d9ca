"""catalog_xai: explainable deep-learning bar measurements for galaxy-survey catalogues.

The science core (``preprocess``, ``models``, ``ensemble``, ``saliency``, ``bars``,
``units``, ``catalogue``, ``synth``, ``training``) is numpy/torch only; ``io`` owns
files and object storage; ``pipeline`` owns Ray.
"""

__version__ = "0.1.0"
