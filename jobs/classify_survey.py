"""Classify a survey and measure its bars: Parquet shards in, catalogue shards out.

The ``ray job submit`` entry point of ``cxai-classify`` (catalog_xai.cli.classify_survey); ``--help`` lists the options.
"""

import sys

from catalog_xai.cli.classify_survey import main

if __name__ == "__main__":
    sys.exit(main())
