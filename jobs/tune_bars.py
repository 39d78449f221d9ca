"""Tune and evaluate the bar measurement on a catalogue with reference bar lengths.

The ``ray job submit`` entry point of ``cxai-tune`` (catalog_xai.cli.tune_bars); ``--help`` lists the options.
"""

import sys

from catalog_xai.cli.tune_bars import main

if __name__ == "__main__":
    sys.exit(main())
