"""Train a CNN ensemble on a survey with volunteer vote fractions; write a checkpoint.

The ``ray job submit`` entry point of ``cxai-train`` (catalog_xai.cli.train_ensemble); ``--help`` lists the options.
"""

import sys

from catalog_xai.cli.train_ensemble import main

if __name__ == "__main__":
    sys.exit(main())
