"""Import a survey in a common format as catalog_xai input shards (part-NNNNN.parquet).

The ``ray job submit`` entry point of ``cxai-import`` (catalog_xai.cli.import_survey); ``--help`` lists the options.
"""

import sys

from catalog_xai.cli.import_survey import main

if __name__ == "__main__":
    sys.exit(main())
