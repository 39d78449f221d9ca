"""Write a synthetic GZ2-style survey (images, redshifts, truth, simulated votes) as shards.

The ``ray job submit`` entry point of ``cxai-make-survey`` (catalog_xai.cli.make_survey); ``--help`` lists the options.
"""

import sys

from catalog_xai.cli.make_survey import main

if __name__ == "__main__":
    sys.exit(main())
