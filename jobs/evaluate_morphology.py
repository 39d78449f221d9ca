"""Compare ensembles with volunteer votes on a labelled survey (e.g. a held-out real split).

The ``ray job submit`` entry point of ``cxai-evaluate-morphology`` (catalog_xai.cli.evaluate_morphology);
``--help`` lists the options.
"""

import sys

from catalog_xai.cli.evaluate_morphology import main

if __name__ == "__main__":
    sys.exit(main())
