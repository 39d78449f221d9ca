"""Check a finished catalogue against its input: rows per shard, objids, schema, units.

The ``ray job submit`` entry point of ``cxai-validate`` (catalog_xai.cli.validate_catalogue);
``--help`` lists the options.
"""

import sys

from catalog_xai.cli.validate_catalogue import main

if __name__ == "__main__":
    sys.exit(main())
