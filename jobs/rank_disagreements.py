"""Where the ensemble and the volunteers disagree, with controls (``cxai-disagree``; ``--help`` lists the options)."""

import sys

from catalog_xai.cli.rank_disagreements import main

if __name__ == "__main__":
    sys.exit(main())
