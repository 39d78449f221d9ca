"""Resolution bias of morphologies: CV14, CV18 and the theta fit (``cxai-bias``; ``--help`` lists the options)."""

import sys

from catalog_xai.cli.resolution_bias import main

if __name__ == "__main__":
    sys.exit(main())
