"""Compare a catalogue's bar lengths with reference lengths carried in its columns.

The ``ray job submit`` entry point of ``cxai-evaluate-bars`` (catalog_xai.cli.evaluate_bars);
``--help`` lists the options.
"""

import sys

from catalog_xai.cli.evaluate_bars import main

if __name__ == "__main__":
    sys.exit(main())
