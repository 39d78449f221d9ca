"""Merge a finished catalogue into a release: Parquet + FITS (units, provenance) + SHA256SUMS.

The ``ray job submit`` entry point of ``cxai-release`` (catalog_xai.cli.make_release); ``--help`` lists the options.
"""

import sys

from catalog_xai.cli.make_release import main

if __name__ == "__main__":
    sys.exit(main())
